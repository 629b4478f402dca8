public enum PaneLogFilterPlaceholder {}
