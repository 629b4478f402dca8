public enum ServicePlaceholder {}
