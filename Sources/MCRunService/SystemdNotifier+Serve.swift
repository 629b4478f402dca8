extension SystemdNotifier: ServiceNotifying {}
