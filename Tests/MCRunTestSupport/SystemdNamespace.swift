import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A real systemd, booted as PID 1 of private PID, mount, cgroup, UTS and IPC namespaces, for
/// tests that need systemd's own judgement of a unit: that it loads, that `READY=1` and
/// `STATUS=` arrive, that the watchdog and restarts behave.
///
/// The file system is the host's; only mounts are private. So before systemd starts:
/// - `/run`, `/tmp`, `/var/tmp`, `/var/lib`, `/var/log` and `/var/cache` get a fresh tmpfs.
///   Boot-time tmpfiles would otherwise empty the host's `/tmp`, and units would write their
///   state, logs and caches into the host's `/var`.
/// - Units that change the host (sysctl, kernel modules, binfmt, system users, tmpfiles,
///   utmp, clock, random seed, remounting `/`, swap) are masked, journald keeps its journal
///   in memory and does not create `/dev/log`, and systemd boots to a target that only wants
///   journald, so the host's own services (databases, gettys) never start.
/// - systemd gets a cgroup of its own under the test's cgroup2 hierarchy and runs with
///   `container=` set, so it manages that subtree only, never the host's, and acts like a
///   container's init (no shutdown-time remounts). Two namespaces can run side by side.
///
/// Paths: anything not under the private directories (the package's build directory, so the
/// binaries under test) is the same file inside and out. A file on the namespace's own tmpfs
/// (a unit's `StateDirectory=` under `/var/lib`) is reached from the host through
/// ``hostPath(_:)``, which goes through `/proc/PID/root`; that is the scratch space shared by
/// both sides, and it vanishes with the namespace.
///
/// Always pair ``boot(timeout:)`` with ``shutdown()`` in a cleanup that also runs when the
/// test fails, or use ``withBooted(timeout:_:)``. A test process killed outright leaves its
/// namespace running; the next ``boot(timeout:)`` finds and kills such leftovers.
public final class SystemdNamespace: Sendable {
    public static let systemdExecutable = "/lib/systemd/systemd"

    /// Directories that are a fresh, empty tmpfs inside the namespace.
    public static let privateDirectories = ["/run", "/tmp", "/var/tmp", "/var/lib", "/var/log", "/var/cache"]

    /// Why this machine cannot boot a namespace, or nil when it can. Tests that need one are
    /// skipped with this reason, except under `CI=true` (see ``shouldRun``).
    public static let unavailableReason: String? = probeAvailability()

    /// Whether tests that need a namespace run: where the machine can boot one, and always
    /// under `CI=true`, where such a test must fail with the reason instead of being skipped.
    public static let shouldRun: Bool = unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] == "true"

    /// The namespace's systemd (PID 1 inside), as the host numbers it.
    public let systemdPID: Int32

    private let launcher: ChildProcess
    private let cgroup: String
    private let workDirectory: String
    private let isShutDown = Mutex(false)
    private let commandCount = Atomic<Int>(0)

    private init(systemdPID: pid_t, launcher: ChildProcess, cgroup: String, workDirectory: String) {
        self.systemdPID = systemdPID
        self.launcher = launcher
        self.cgroup = cgroup
        self.workDirectory = workDirectory
    }

    deinit {
        shutdown()
    }

    // MARK: Booting and shutting down

    /// Boots systemd and returns once it reports `running` (or `degraded`) to
    /// `systemctl is-system-running`. Typically well under a second; a failure says why and
    /// includes systemd's console output.
    ///
    /// `overlaid` host directories (such as `/etc`, `/usr/local`, `/home`) become writable
    /// copies inside: an overlay whose changes land on a tmpfs and vanish with the namespace,
    /// so an install into `/usr/local` and `/etc`, `systemd-sysusers` writing `/etc/passwd`
    /// or `useradd` change the namespace only, never the host.
    public static func boot(timeout: Duration = .seconds(30), overlaid: [String] = []) async throws -> SystemdNamespace {
        if let reason = unavailableReason {
            throw HarnessError("cannot boot systemd in a namespace: \(reason)")
        }
        for directory in overlaid
        where !directory.hasPrefix("/") || directory.contains(" ") || directory == "/"
            || privateDirectories.contains(where: { directory == $0 || directory.hasPrefix($0 + "/") })
        {
            throw HarnessError("cannot overlay \(directory): not an absolute path outside the private directories")
        }
        let deadline = ContinuousClock.now + timeout
        let tools = try requiredTools()
        reapAbandoned()

        let workDirectory = try makeTemporaryDirectory()
        let seed = workDirectory + "/seed"
        let console = workDirectory + "/console.log"
        let cgroup: String
        let launcher: ChildProcess
        do {
            try writeSeed(at: seed)
            cgroup = try makeCgroup()
            do {
                launcher = try ChildProcess.spawn(
                    [
                        "/bin/sh", "-c", launcherScript, "mcrun-harness", cgroup, tools.unshare, seed, systemdExecutable,
                        overlaid.joined(separator: " "),
                    ],
                    environment: cleanEnvironment.merging(["container": "mcrun-harness"]) { $1 },
                    standardOutput: console,
                    standardError: nil)
            } catch {
                removeCgroupTree(cgroup)
                throw error
            }
        } catch {
            try? FileManager.default.removeItem(atPath: workDirectory)
            throw error
        }

        var booting: SystemdNamespace?
        do {
            let pid = try await findSystemd(launcher: launcher, deadline: deadline)
            let namespace = SystemdNamespace(
                systemdPID: pid, launcher: launcher, cgroup: cgroup, workDirectory: workDirectory)
            booting = namespace
            try await namespace.waitUntilBooted(deadline: deadline)
            try? FileManager.default.removeItem(atPath: seed)
            return namespace
        } catch {
            let output = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
            if let booting {
                booting.shutdown()
            } else {
                teardown(launcher: launcher, systemdPID: nil, cgroup: cgroup, workDirectory: workDirectory)
            }
            throw HarnessError("systemd did not boot: \(error)\n--- systemd console ---\n\(output.suffix(4_000))")
        }
    }

    /// Boots, runs `body`, and shuts down whether `body` returns or throws.
    public static func withBooted<T>(
        timeout: Duration = .seconds(30),
        overlaid: [String] = [],
        _ body: (SystemdNamespace) async throws -> T
    ) async throws -> T {
        let namespace = try await boot(timeout: timeout, overlaid: overlaid)
        defer { namespace.shutdown() }
        return try await body(namespace)
    }

    /// Powers systemd off (`SIGRTMIN+4`; a PID 1 ignores SIGTERM), waits for the namespace
    /// to end, and removes its cgroup and scratch files. Kills whatever is left if poweroff
    /// hangs. Safe to call more than once; blocks, usually for well under a second.
    public func shutdown() {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        Self.teardown(launcher: launcher, systemdPID: systemdPID, cgroup: cgroup, workDirectory: workDirectory)
    }

    // MARK: Files inside

    /// The host's path to `path` as the namespace sees it (its private tmpfs included).
    public func hostPath(_ path: String) -> String {
        "/proc/\(systemdPID)/root" + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// True when a host path is the same file inside the namespace (not hidden by one of the
    /// ``privateDirectories``).
    public static func isVisibleInside(hostPath path: String) -> Bool {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return !privateDirectories.contains { absolute == $0 || absolute.hasPrefix($0 + "/") }
    }

    /// Writes a file inside the namespace, creating its parent directories.
    public func writeFile(_ contents: String, to path: String, mode: Int = 0o644) throws {
        let target = hostPath(path)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard
            FileManager.default.createFile(
                atPath: target, contents: Data(contents.utf8), attributes: [.posixPermissions: mode])
        else { throw HarnessError("cannot write \(path) inside the namespace") }
    }

    /// Installs a unit into `/run/systemd/system` (never `/etc`, which is the host's) and
    /// reloads systemd.
    public func install(unit contents: String, name: String) async throws {
        try Self.checkUnitName(name)
        try writeFile(contents, to: "/run/systemd/system/\(name)")
        try await systemctl("daemon-reload")
    }

    /// Installs a drop-in (`/run/systemd/system/UNIT.d/NAME.conf`) and reloads systemd:
    /// the way to point a shipped unit at a binary under test.
    public func install(dropIn contents: String, for unit: String, name: String = "test") async throws {
        try Self.checkUnitName(unit)
        try Self.checkUnitName(name)
        try writeFile(contents, to: "/run/systemd/system/\(unit).d/\(name).conf")
        try await systemctl("daemon-reload")
    }

    /// Runs `body` on a thread of its own that has joined the namespace's mount namespace:
    /// the test process's own code then reaches fixed paths inside, such as journald's socket
    /// under `/run` (sd_journal_sendv(3) has no other address). Only file system paths change;
    /// the thread keeps the host's PID namespace, and the change ends with the thread.
    public func withMountNamespace<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let namespace = "/proc/\(systemdPID)/ns/mnt"
        let outcome = Outcome<T>()
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { finished.signal() }
            outcome.set(
                Result {
                    // setns(2) refuses a mount namespace to a thread sharing its root and cwd.
                    guard LinuxNamespaces.unshare(LinuxNamespaces.cloneFS) == 0 else {
                        throw HarnessError("unshare(CLONE_FS): \(String(cString: strerror(errno)))")
                    }
                    let descriptor = open(namespace, O_RDONLY | O_CLOEXEC)
                    guard descriptor >= 0 else {
                        throw HarnessError("cannot open \(namespace): \(String(cString: strerror(errno)))")
                    }
                    defer { close(descriptor) }
                    guard LinuxNamespaces.setns(descriptor, LinuxNamespaces.cloneNewNS) == 0 else {
                        throw HarnessError("setns(\(namespace)): \(String(cString: strerror(errno)))")
                    }
                    return try body()
                })
        }
        thread.start()
        finished.wait()
        return try outcome.get()
    }

    // MARK: Commands inside

    /// Runs a command inside the namespace (`nsenter`), with a clean environment. Returns
    /// whatever the exit status; throws only when it cannot run or outlives `timeout`.
    @discardableResult
    public func run(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> CommandResult {
        let tools = try Self.requiredTools()
        let number = commandCount.add(1, ordering: .relaxed).newValue
        let output = "\(workDirectory)/command-\(number).out"
        let errors = "\(workDirectory)/command-\(number).err"
        defer {
            unlink(output)
            unlink(errors)
        }
        let child = try ChildProcess.spawn(
            [tools.nsenter, "-t", "\(systemdPID)", "-m", "-p", "-u", "-i", "-C", "--"] + arguments,
            environment: Self.cleanEnvironment,
            standardOutput: output,
            standardError: errors)
        guard let status = await child.waitForExit(timeout: timeout) else {
            kill(child.pid, SIGKILL)
            _ = child.waitForExitBlocking(timeout: .seconds(5))
            throw HarnessError(
                "`\(arguments.joined(separator: " "))` inside the namespace did not finish within \(timeout)")
        }
        return CommandResult(
            arguments: arguments,
            status: status,
            standardOutput: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }

    /// `systemctl ARGUMENTS...`; throws with its output when it fails.
    @discardableResult
    public func systemctl(_ arguments: String..., timeout: Duration = .seconds(30)) async throws -> CommandResult {
        let result = try await run(["systemctl", "--no-pager"] + arguments, timeout: timeout)
        guard result.succeeded else { throw HarnessError("\(result)") }
        return result
    }

    /// `systemctl show -p A,B UNIT` as a dictionary.
    public func show(_ unit: String, _ properties: [String]) async throws -> [String: String] {
        let result = try await systemctl("show", "--property=" + properties.joined(separator: ","), unit)
        var values: [String: String] = [:]
        for line in result.standardOutput.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    /// `journalctl -u UNIT --no-pager`, in the given output format (`short`, `cat`, `export`...),
    /// after journald has stored everything already sent to it.
    public func journal(_ unit: String, format: String = "short") async throws -> String {
        try await run(["journalctl", "--sync"])
        let result = try await run(["journalctl", "--no-pager", "--unit", unit, "--output", format])
        guard result.succeeded else { throw HarnessError("\(result)") }
        return result.standardOutput
    }

    // MARK: Waiting

    /// Polls `condition` until it holds; fails after `timeout` naming what was awaited.
    public func waitFor(
        _ description: String,
        timeout: Duration = .seconds(10),
        _ condition: () async throws -> Bool
    ) async throws {
        do {
            _ = try await poll(until: .now + timeout) { try await condition() ? true : nil }
        } catch is TimedOut {
            throw HarnessError("timed out after \(timeout) waiting for \(description)")
        }
    }

    /// Polls `systemctl show` until every property has the expected value; returns the values
    /// seen. On timeout the error lists the values last seen and the unit's journal.
    @discardableResult
    public func waitFor(
        _ unit: String,
        toHave expected: [String: String],
        timeout: Duration = .seconds(10)
    ) async throws -> [String: String] {
        let properties = expected.keys.sorted()
        var last: [String: String] = [:]
        do {
            return try await poll(until: .now + timeout) {
                last = try await show(unit, properties)
                return expected.allSatisfy { last[$0.key] == $0.value } ? last : nil
            }
        } catch is TimedOut {
            let seen = properties.map { "\($0)=\(last[$0] ?? "?")" }.joined(separator: " ")
            let wanted = properties.map { "\($0)=\(expected[$0]!)" }.joined(separator: " ")
            let journal = (try? await journal(unit)) ?? "(journal unavailable)"
            throw HarnessError(
                "timed out after \(timeout) waiting for \(unit) to have \(wanted); last seen \(seen)"
                    + "\n--- journal ---\n\(journal)")
        }
    }

    // MARK: Boot internals

    /// Runs in the launcher process: moves itself into the namespace's cgroup, then becomes
    /// `unshare`, whose child mounts the private directories, copies the seed into the new
    /// `/run` (before `/tmp` is covered, where the seed lives), overlays the directories asked
    /// for with a tmpfs-backed upper layer in that `/run`, lets systemd mount its own
    /// cgroup2 (rooted at the new cgroup namespace) and becomes systemd.
    private static let launcherScript = #"""
        set -e
        echo $$ > "$1/cgroup.procs"
        exec "$2" --fork --kill-child=SIGKILL --pid --mount --mount-proc --propagation private \
            --cgroup --uts --ipc /bin/sh -c '
                set -e
                mount -t tmpfs -o mode=0755 mcrun-harness /run
                cp -a "$1"/. /run/
                for d in /tmp /var/tmp; do
                    mount -t tmpfs -o mode=1777 mcrun-harness "$d"
                done
                for d in /var/lib /var/log /var/cache; do
                    if [ -d "$d" ]; then mount -t tmpfs -o mode=0755 mcrun-harness "$d"; fi
                done
                n=0
                for d in $3; do
                    n=$((n + 1))
                    mkdir -p "/run/mcrun-harness-overlay/$n/upper" "/run/mcrun-harness-overlay/$n/work"
                    mount -t overlay -o "lowerdir=$d,upperdir=/run/mcrun-harness-overlay/$n/upper,workdir=/run/mcrun-harness-overlay/$n/work" mcrun-harness "$d"
                done
                if mountpoint -q /sys/fs/cgroup; then umount -R /sys/fs/cgroup; fi
                exec "$2" --system --unit=mcrun-harness.target systemd.unified_cgroup_hierarchy=1
            ' mcrun-harness-init "$3" "$4" "$5"
        """#

    /// Units whose start would change the host rather than the namespace.
    private static let maskedUnits = [
        "systemd-sysctl.service", "systemd-sysusers.service", "systemd-modules-load.service",
        "kmod-static-nodes.service", "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
        "proc-sys-fs-binfmt_misc.mount", "systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service",
        "systemd-tmpfiles-setup-dev-early.service", "systemd-tmpfiles-clean.service", "systemd-tmpfiles-clean.timer",
        "systemd-random-seed.service", "systemd-remount-fs.service", "systemd-fsck-root.service",
        "systemd-firstboot.service", "systemd-machine-id-commit.service", "ldconfig.service",
        "systemd-hwdb-update.service", "systemd-journal-catalog-update.service", "systemd-update-done.service",
        "systemd-update-utmp.service", "systemd-update-utmp-runlevel.service", "systemd-timesyncd.service",
        "systemd-pstore.service", "systemd-repart.service", "systemd-pcrphase.service",
        "systemd-pcrphase-sysinit.service", "systemd-journal-flush.service", "systemd-journald-audit.socket",
        "swap.target",
    ]

    private static func writeSeed(at seed: String) throws {
        let fileManager = FileManager.default
        let units = seed + "/systemd/system"
        try fileManager.createDirectory(
            atPath: units + "/systemd-journald-dev-log.socket.d", withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: seed + "/systemd/journald.conf.d", withIntermediateDirectories: true)
        for unit in maskedUnits {
            try fileManager.createSymbolicLink(atPath: "\(units)/\(unit)", withDestinationPath: "/dev/null")
        }
        let files = [
            units + "/mcrun-harness.target": """
            [Unit]
            Description=mcrun test harness
            Wants=systemd-journald.service
            After=systemd-journald.service

            """,
            // /dev is the host's devtmpfs.
            units + "/systemd-journald-dev-log.socket.d/no-dev-log.conf": "[Socket]\nSymlinks=\n",
            seed + "/systemd/journald.conf.d/volatile.conf": "[Journal]\nStorage=volatile\n",
        ]
        for (path, contents) in files {
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    private static func findSystemd(launcher: ChildProcess, deadline: ContinuousClock.Instant) async throws -> pid_t {
        do {
            return try await poll(until: deadline) {
                if let status = launcher.exitStatus() {
                    throw HarnessError("the launcher exited (\(status.waitStatusDescription)) before systemd started")
                }
                // Until the child has exec'd systemd, it is the shell that prepares the mounts.
                let systemd = URL(fileURLWithPath: systemdExecutable).resolvingSymlinksInPath().path
                return children(of: launcher.pid).first {
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/exe")) == systemd
                }
            }
        } catch is TimedOut {
            throw HarnessError("no systemd appeared under the launcher (PID \(launcher.pid))")
        }
    }

    private func waitUntilBooted(deadline: ContinuousClock.Instant) async throws {
        var last = ""
        do {
            _ = try await poll(until: deadline) { () async throws -> Bool? in
                if let status = launcher.exitStatus() {
                    throw HarnessError("systemd exited (\(status.waitStatusDescription)) during boot")
                }
                let state = try await run(["systemctl", "is-system-running"], timeout: .seconds(5))
                last = state.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                return last == "running" || last == "degraded" ? true : nil
            }
        } catch is TimedOut {
            throw HarnessError("systemd did not finish booting; `systemctl is-system-running` said \"\(last)\"")
        }
    }

    private static func teardown(launcher: ChildProcess, systemdPID: pid_t?, cgroup: String, workDirectory: String) {
        // The launcher is not reaped while it runs, so its child's PID cannot have been reused.
        if let systemdPID, launcher.exitStatus() == nil {
            kill(systemdPID, __libc_current_sigrtmin() + 4)
            _ = launcher.waitForExitBlocking(timeout: .seconds(15))
        }
        if launcher.exitStatus() == nil {
            killCgroup(cgroup)
            kill(launcher.pid, SIGKILL)
            _ = launcher.waitForExitBlocking(timeout: .seconds(5))
        }
        removeCgroupTree(cgroup)
        try? FileManager.default.removeItem(atPath: workDirectory)
    }

    // MARK: cgroups

    /// `mcrun-harness.OWNER.N` under the test process's own cgroup2 directory.
    private static let cgroupPrefix = "mcrun-harness."
    private static let cgroupSerial = Atomic<Int>(0)

    private static func makeCgroup() throws -> String {
        guard let parent = ownCgroup2Directory() else { throw HarnessError("no cgroup2 hierarchy is mounted") }
        let serial = cgroupSerial.add(1, ordering: .relaxed).newValue
        let path = "\(parent)/\(cgroupPrefix)\(getpid()).\(serial)"
        guard mkdir(path, 0o755) == 0 else {
            throw HarnessError("cannot create cgroup \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    /// Kills and removes namespaces, and their scratch directories, left by test processes
    /// that died without shutting down.
    private static func reapAbandoned() {
        if let parent = ownCgroup2Directory(),
            let entries = try? FileManager.default.contentsOfDirectory(atPath: parent)
        {
            for entry in entries where entry.hasPrefix(cgroupPrefix) && isAbandoned(entry, prefix: cgroupPrefix) {
                killCgroup(parent + "/" + entry)
                removeCgroupTree(parent + "/" + entry)
            }
        }
        let temporary = temporaryDirectory()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        where entry.hasPrefix(workDirectoryPrefix) && isAbandoned(entry, prefix: workDirectoryPrefix) {
            try? FileManager.default.removeItem(atPath: temporary + entry)
        }
    }

    /// Names start with the owning test process's PID: `PREFIX<pid>.…`.
    private static func isAbandoned(_ name: String, prefix: String) -> Bool {
        guard let owner = name.dropFirst(prefix.count).split(separator: ".").first.flatMap({ pid_t($0) }) else {
            return false
        }
        return kill(owner, 0) == -1 && errno == ESRCH
    }

    private static func killCgroup(_ cgroup: String) {
        if (try? Data("1".utf8).write(to: URL(fileURLWithPath: cgroup + "/cgroup.kill"))) != nil { return }
        // Kernels before 5.14 have no cgroup.kill.
        for directory in cgroupTree(cgroup) {
            let procs = (try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in procs.split(separator: "\n").compactMap({ pid_t($0) }) {
                kill(pid, SIGKILL)
            }
        }
    }

    /// Removes the cgroup and its children, deepest first, retrying while the last processes
    /// finish exiting (rmdir says EBUSY until they have).
    private static func removeCgroupTree(_ cgroup: String) {
        let deadline = ContinuousClock.now + .seconds(5)
        while FileManager.default.fileExists(atPath: cgroup) {
            for directory in cgroupTree(cgroup).reversed() {
                rmdir(directory)
            }
            if ContinuousClock.now >= deadline { return }
            usleep(10_000)
        }
    }

    /// The cgroup and all its descendants, parents before children.
    private static func cgroupTree(_ cgroup: String) -> [String] {
        var result = [cgroup]
        var index = 0
        while index < result.count {
            let directory = result[index]
            index += 1
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for entry in entries {
                var isDirectory: ObjCBool = false
                let path = directory + "/" + entry
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                    result.append(path)
                }
            }
        }
        return result
    }

    /// The directory of this process's cgroup in the cgroup2 hierarchy (`0::/path` in
    /// /proc/self/cgroup, under the cgroup2 mount point), nil without cgroup2.
    private static func ownCgroup2Directory() -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8),
            let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        else { return nil }
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPEROPTIONS
        let mountPoint = mounts.split(separator: "\n").lazy.compactMap { line -> String? in
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { return nil }
            let fields = halves[0].split(separator: " ")
            return fields.count > 4 ? String(fields[4]) : nil
        }.first
        let path = membership.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        guard let mountPoint, let path else { return nil }
        return path == "/" ? mountPoint : mountPoint + path
    }

    // MARK: Environment

    private static let cleanEnvironment = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "SYSTEMD_PAGER": "",
        "SYSTEMD_COLORS": "0",
    ]

    private static func requiredTools() throws(HarnessError) -> (unshare: String, nsenter: String) {
        guard let unshare = findExecutable("unshare"), let nsenter = findExecutable("nsenter") else {
            throw HarnessError("unshare and nsenter (util-linux) are needed")
        }
        return (unshare, nsenter)
    }

    private static func findExecutable(_ name: String) -> String? {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    private static func children(of pid: pid_t) -> [pid_t] {
        if let listed = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) {
            return listed.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        // Kernels without CONFIG_PROC_CHILDREN: scan for the parent PID (stat field 4).
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let candidate = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? candidate : nil
        }
    }

    private static let workDirectoryPrefix = "mcrun-harness-"

    private static func temporaryDirectory() -> String {
        NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
    }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array("\(temporaryDirectory())\(workDirectoryPrefix)\(getpid()).XXXXXX".utf8CString)
        guard let path = mkdtemp(&template) else {
            throw HarnessError("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        return String(cString: path)
    }

    private static func checkUnitName(_ name: String) throws {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw HarnessError("not a unit or drop-in name: \(name)")
        }
    }

    private static func probeAvailability() -> String? {
        guard geteuid() == 0 else {
            return "needs root to create namespaces and mount file systems (running as uid \(geteuid()))"
        }
        guard access(systemdExecutable, X_OK) == 0 else { return "\(systemdExecutable) is not installed" }
        guard let tools = try? requiredTools() else { return "unshare and nsenter (util-linux) are not installed" }
        guard let cgroup = ownCgroup2Directory(), access(cgroup, W_OK) == 0 else {
            return "no writable cgroup2 hierarchy for systemd's own cgroup"
        }
        guard let scratch = try? makeTemporaryDirectory() else { return "no temporary directory" }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // Containers often forbid new namespaces even to root; find out before a test does.
        guard
            let probe = try? ChildProcess.spawn(
                [tools.unshare, "--fork", "--pid", "--mount", "--cgroup", "--uts", "--ipc", "/bin/true"],
                environment: cleanEnvironment, standardOutput: scratch + "/probe.log", standardError: nil),
            let status = probe.waitForExitBlocking(timeout: .seconds(10))
        else { return "unshare did not run" }
        guard status.exitedSuccessfully else {
            let output = (try? String(contentsOfFile: scratch + "/probe.log", encoding: .utf8)) ?? ""
            return "unshare cannot create namespaces here: \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
        return nil
    }
}

/// unshare(2) and setns(2): glibc has them, but its headers declare them only under
/// _GNU_SOURCE, which Swift's Glibc module does not define.
private enum LinuxNamespaces {
    static let cloneFS: Int32 = 0x0000_0200
    static let cloneNewNS: Int32 = 0x0002_0000

    static let unshare = function("unshare", as: (@convention(c) (Int32) -> Int32).self)
    static let setns = function("setns", as: (@convention(c) (Int32, Int32) -> Int32).self)

    private static func function<F>(_ name: String, as type: F.Type) -> F {
        guard let symbol = dlsym(nil, name) else { fatalError("glibc has no \(name)") }
        return unsafeBitCast(symbol, to: type)
    }
}

/// A result handed from one thread to another.
private final class Outcome<T: Sendable>: Sendable {
    private let value = Mutex<Result<T, any Error>?>(nil)

    func set(_ result: Result<T, any Error>) {
        value.withLock { $0 = result }
    }

    func get() throws -> T {
        guard let result = value.withLock({ $0 }) else {
            throw HarnessError("the namespace thread ended without a result")
        }
        return try result.get()
    }
}

/// What a command printed and how it ended.
public struct CommandResult: Sendable, CustomStringConvertible {
    public let arguments: [String]
    /// The wait(2) status.
    public let status: Int32
    public let standardOutput: String
    public let standardError: String

    public var succeeded: Bool { status.exitedSuccessfully }

    public var description: String {
        var text = "`\(arguments.joined(separator: " "))` ended with \(status.waitStatusDescription)"
        for (name, output) in [("stdout", standardOutput), ("stderr", standardError)] where !output.isEmpty {
            text += "\n--- \(name) ---\n\(output.trimmingCharacters(in: .newlines))"
        }
        return text
    }
}
