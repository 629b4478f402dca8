import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// How an installed mcrun finds its state directory, its hooks and its configuration, and
/// who may use a state directory: the real binary, real files, real users' identities
/// (`setpriv` to an unprivileged uid), no MCRUN_STATE_DIR unless a test sets it.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DeployTests {
    /// A scratch whose commands read `system.conf` as the system configuration file and
    /// `config/mcrun/mcrun.conf` as the user's, and have no MCRUN_STATE_DIR.
    func configured(_ name: String) throws -> Scratch {
        let s = try Scratch(name: name)
        s.environment["MCRUN_STATE_DIR"] = nil
        s.environment["MCRUN_CONFIG"] = s.path("system.conf")
        s.environment["XDG_CONFIG_HOME"] = s.path("config")
        return s
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test(arguments: [
        ("state-dir = /tmp/x\nbogus\n", ":2: expected key = value"),
        ("# comment\n\ncolour = blue\n", ":3: unknown key \"colour\""),
        ("state-dir = /a\nstate-dir = /b\n", ":2: state-dir is already set on line 1"),
        ("state-dir = relative/dir\n", ":1: state-dir must be an absolute path"),
        ("retry-delay =\n", ":1: retry-delay has no value"),
    ])
    func aBadLineIsOneErrorNamingFileAndLineAndChangesNothing(_ text: String, _ expected: String) throws {
        let s = try configured("badconf")
        defer { s.cleanup() }
        _ = try s.write("system.conf", text)
        s.environment["MCRUN_STATE_DIR"] = s.stateDir
        for arguments in [["ps"], ["start", "T", "--", "sleep", "60"]] {
            let result = try s.mcrun(arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderrText)")
            #expect(result.stderrText.hasPrefix("mcrun: \(s.path("system.conf"))\(expected)"), "\(result.stderrText)")
            #expect(result.stderrText.split(separator: "\n").count == 1)
        }
        #expect(!exists(s.stateDir), "a bad configuration still created the state directory")
    }

    @Test func theStateDirectoryIsTheFlagsThenTheEnvironmentsThenTheUserFilesThenTheSystemFiles() throws {
        let s = try configured("precedence")
        defer { s.cleanup() }
        // A write creates the ledger where the command looked (a read creates nothing).
        func ledgerIn(_ name: String) -> Bool { exists(s.path(name) + "/ledger.sqlite") }
        let write = ["config", "capacity", "7"]
        _ = try s.write("system.conf", "# the service's\nstate-dir = \(s.path("system"))\n")
        #expect(try s.mcrun(write).succeeded)
        #expect(ledgerIn("system"))

        try FileManager.default.createDirectory(atPath: s.path("config/mcrun"), withIntermediateDirectories: true)
        _ = try s.write("config/mcrun/mcrun.conf", "state-dir = \(s.path("user"))\n")
        #expect(try s.mcrun(write).succeeded)
        #expect(ledgerIn("user"))

        s.environment["MCRUN_STATE_DIR"] = s.path("environment")
        #expect(try s.mcrun(write).succeeded)
        #expect(ledgerIn("environment"))

        #expect(try s.mcrun(write + ["--state-dir", s.path("flag")]).succeeded)
        #expect(ledgerIn("flag"))
    }

    @Test func serveTakesItsOptionsFromTheFileAndABadValueNamesItsLine() throws {
        let s = try configured("serveconf")
        defer { s.cleanup() }
        _ = try s.write("system.conf", "state-dir = \(s.stateDir)\nreconcile-interval = soon\n")
        let bad = try s.mcrun(["serve"])
        #expect(bad.status == 2, "\(bad.stderrText)")
        #expect(bad.stderrText.hasPrefix("mcrun: \(s.path("system.conf")):2: reconcile-interval = soon is not a duration"), "\(bad.stderrText)")

        _ = try s.write("system.conf", "state-dir = \(s.stateDir)\nmax-silent-retries = 3\nretry-delay = 750ms\nreconcile-interval = 1s\n")
        let serve = try s.spawnMcrun(["serve"])
        s.onCleanup { kill(serve.pid, SIGKILL) }
        try waitUntil("serve to store max-silent-retries and retry-delay from the file") {
            let (_, json) = try s.mcrunJSON(["config"])
            return json.at("settings.max-silent-retries")?.stringValue == "3" && json.at("settings.retry-delay")?.stringValue == "0.75"
        }
        // A flag wins over the file.
        kill(serve.pid, SIGTERM)
        _ = serve.collect(stdin: nil, timeoutMilliseconds: 10_000)
        let flagged = try s.spawnMcrun(["serve", "--max-silent-retries", "0"])
        s.onCleanup { kill(flagged.pid, SIGKILL) }
        try waitUntil("serve to store the flag's max-silent-retries") {
            try s.mcrunJSON(["config", "max-silent-retries"]).json.at("settings.max-silent-retries")?.stringValue == "0"
        }
    }

    /// An operator (uid 4243, in the directory's group) reads everything with no writer
    /// open (the WAL persists for them) and changes nothing; a user outside the group is
    /// refused even reading; both are told which user to run as.
    @Test func anotherUsersDirectoryIsRefusedNamingItsOwnerAndItsGroupMayOnlyRead() throws {
        let s = try Scratch(name: "operator")
        defer { s.cleanup() }
        s.environment["XDG_CONFIG_HOME"] = s.path("config")
        let started = try s.mcrunJSON(["start", "OPS-1", "--", "sh", "-c", "echo operator-can-read; exec sleep 300"])
        #expect(started.result.status == 0, "\(started.result.stderrText)")
        try waitUntil("the pane log") { try s.mcrun(["logs", "OPS-1"]).stdoutText.contains("operator-can-read") }
        // The directory now belongs to `nobody`, group 4242; nothing holds the ledger open.
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        chmod(s.directory, 0o755)
        let chowned = try Subprocess.run(["chown", "-R", "\(nobody):4242", s.stateDir])
        #expect(chowned.succeeded, "\(chowned.stderrText)")
        #expect(exists(s.stateDir + "/ledger.sqlite-wal") && exists(s.stateDir + "/ledger.sqlite-shm"), "the WAL did not persist")

        func asUser(_ groups: String, _ arguments: [String]) throws -> Subprocess.Result {
            let groupFlag = groups.isEmpty ? ["--clear-groups"] : ["--groups=\(groups)"]
            return try Subprocess.run(
                ["setpriv", "--reuid=4243", "--regid=4243"] + groupFlag + [Scratch.mcrunPath] + arguments,
                environment: s.processEnvironment, workingDirectory: "/", timeoutMilliseconds: 30_000)
        }
        let ps = try asUser("4242", ["ps", "--json"])
        #expect(ps.succeeded, "\(ps.stderrText)")
        #expect(ps.stdoutText.contains("\"ticket\":\"OPS-1\""), "\(ps.stdoutText)")
        for arguments in [["show", "OPS-1"], ["events"], ["harvest", "OPS-1"]] {
            let result = try asUser("4242", arguments)
            #expect(result.succeeded, "\(arguments): \(result.stderrText)")
        }
        #expect(try asUser("4242", ["logs", "OPS-1"]).stdoutText.contains("operator-can-read"))

        for arguments in [["stop", "OPS-1"], ["start", "OPS-2", "--", "true"], ["killswitch", "on"]] {
            let result = try asUser("4242", arguments)
            #expect(result.status == 5, "\(arguments) exited \(result.status): \(result.stderrText)")
            #expect(result.stderrText.contains("belongs to user nobody; run as that user (sudo -u nobody mcrun ...)"), "\(result.stderrText)")
            #expect(result.stderrText.contains("members of group"), "\(result.stderrText)")
        }
        let outsider = try asUser("", ["ps"])
        #expect(outsider.status == 5 && outsider.stderrText.contains("sudo -u nobody"), "\(outsider.stderrText)")
        #expect(try Subprocess.run(["kill", "-0", String(started.json.at("runtime.pid")?.intValue ?? 0)]).succeeded, "the refused stop reached the agent")
        // Nothing was written by the refused commands.
        let events = try Subprocess.run(["sqlite3", s.stateDir + "/ledger.sqlite", "SELECT count(*) FROM events WHERE kind = 'killswitch'"])
        #expect(events.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(events.stdoutText)")
    }

    /// The production lookup: an installed PREFIX/bin/mcrun finds PREFIX/lib/mcrun/hooks, with
    /// no MCRUN_HOOKS_DIR; without hooks, start says so and the runtime records it.
    @Test func anInstalledMcrunFindsItsHooksBesideItAndWithoutThemSaysSo() throws {
        let s = try Scratch(name: "hooks")
        defer { s.cleanup() }
        s.environment["XDG_CONFIG_HOME"] = s.path("config")
        s.environment["MCRUN_HOOKS_DIR"] = nil
        let bin = s.path("prefix/bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        // Copied by cp, not by this process: a descriptor of ours open for writing at the
        // moment a parallel test spawns would leak into it, and exec would fail (ETXTBSY).
        let copied = try Subprocess.run([
            "cp", Scratch.binDirectory + "/mcrun", Scratch.binDirectory + "/mcrun-pane-log", Scratch.binDirectory + "/mcrun-shim", bin,
        ])
        #expect(copied.succeeded, "\(copied.stderrText)")
        func installed(_ arguments: [String]) throws -> Subprocess.Result {
            try Subprocess.run([bin + "/mcrun"] + arguments, environment: s.processEnvironment, workingDirectory: s.directory, timeoutMilliseconds: 30_000)
        }

        let bare = try installed(["start", "BARE", "--json", "--", "sh", "-c", "echo unlogged; exec sleep 300"])
        #expect(bare.status == 0, "\(bare.stderrText)")
        #expect(bare.stderrText.contains("warning: BARE runs without a pane log: no hooks folder found"), "\(bare.stderrText)")
        #expect(bare.stderrText.contains(s.path("prefix/lib/mcrun/hooks")), "\(bare.stderrText)")
        let show = try installed(["show", "BARE", "--json"])
        let missing = try #require(JSONValue.parse(show.stdoutText)?.at("runtime.pane_log_missing")?.stringValue, "\(show.stdoutText)")
        #expect(missing.hasPrefix("no hooks folder found"))
        #expect(try installed(["show", "BARE"]).stdoutText.contains("no pane log: no hooks folder found"))

        try FileManager.default.createDirectory(atPath: s.path("prefix/lib/mcrun"), withIntermediateDirectories: true)
        #expect(try Subprocess.run(["cp", "-r", Scratch.packageRoot + "/hooks", s.path("prefix/lib/mcrun/hooks")]).succeeded)
        let logged = try installed(["start", "LOGGED", "--json", "--", "sh", "-c", "echo logged-by-installed-hook; exec sleep 300"])
        #expect(logged.status == 0 && !logged.stderrText.contains("without a pane log"), "\(logged.stderrText)")
        #expect(JSONValue.parse(logged.stdoutText)?.at("runtime.pane_log_missing") == .null, "\(logged.stdoutText)")
        try waitUntil("the installed hook's pane log") {
            try installed(["logs", "LOGGED"]).stdoutText.contains("logged-by-installed-hook")
        }
    }

    /// scripts/install.sh, staged with --destdir (nothing live runs): a dry run changes
    /// nothing, the layout and the units' ExecStart follow --prefix, the man page and
    /// completions are installed when the tree has them, an existing configuration file is
    /// kept, and --uninstall removes exactly what was installed.
    @Test func theInstallScriptStagesDryRunsKeepsTheConfigurationAndUninstalls() throws {
        let s = try Scratch(name: "install")
        defer { s.cleanup() }
        // A copy of the tree's install inputs, plus a man page and completions.
        let tree = s.path("tree")
        for item in ["scripts", "hooks", "units", "dist"] {
            try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Scratch.packageRoot + "/" + item, toPath: tree + "/" + item)
        }
        try FileManager.default.createDirectory(atPath: tree + "/share/man/man1", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tree + "/share/completions", withIntermediateDirectories: true)
        _ = try s.write("tree/share/man/man1/mcrun.1", ".TH MCRUN 1\n")
        _ = try s.write("tree/share/completions/mcrun.bash", "complete -F _mcrun mcrun\n")
        let stage = s.path("stage")
        let passwd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
        func install(_ arguments: [String]) throws -> Subprocess.Result {
            try Subprocess.run(["bash", tree + "/scripts/install.sh"] + arguments, environment: s.processEnvironment, timeoutMilliseconds: 60_000)
        }
        let common = ["--destdir", stage, "--prefix", "/opt/mcrun", "--binaries", Scratch.binDirectory]

        let usage = try install(["--frobnicate"])
        #expect(usage.status == 2 && usage.stderrText.split(separator: "\n").count == 1, "\(usage.stderrText)")
        #expect(try install(["--purge"]).status == 2)

        let dry = try install(common + ["--dry-run"])
        #expect(dry.succeeded, "\(dry.stderrText)")
        #expect(dry.stdoutText.contains("+ install -D -m 0755 \(Scratch.binDirectory)/mcrun \(stage)/opt/mcrun/bin/mcrun"), "\(dry.stdoutText)")
        #expect(dry.stdoutText.contains("\(stage)/etc/systemd/system/mcrun.service"))
        #expect(!exists(stage), "--dry-run created \(stage)")

        let real = try install(common)
        #expect(real.succeeded, "\(real.stderrText)")
        for path in [
            "opt/mcrun/bin/mcrun", "opt/mcrun/bin/mcrun-pane-log", "opt/mcrun/bin/mcrun-shim", "opt/mcrun/lib/mcrun/hooks/pane-log",
            "opt/mcrun/lib/mcrun/hooks/claude-code/settings.json", "opt/mcrun/share/man/man1/mcrun.1",
            "opt/mcrun/share/bash-completion/completions/mcrun", "etc/systemd/system/mcrun-tmux.service",
            "etc/sysusers.d/mcrun.conf", "etc/tmpfiles.d/mcrun.conf", "etc/mcrun/mcrun.conf",
        ] {
            #expect(exists(stage + "/" + path), "\(path) not staged")
        }
        #expect(FileManager.default.isExecutableFile(atPath: stage + "/opt/mcrun/lib/mcrun/hooks/pane-log"))
        let unit = try String(contentsOfFile: stage + "/etc/systemd/system/mcrun.service", encoding: .utf8)
        #expect(unit.contains("\nExecStart=/opt/mcrun/bin/mcrun serve\n"), "\(unit)")
        #expect(try String(contentsOfFile: "/etc/passwd", encoding: .utf8) == passwd, "a staged install created users")

        _ = try s.write("stage/etc/mcrun/mcrun.conf", "state-dir = /srv/mcrun\n")
        let again = try install(common)
        #expect(again.succeeded && again.stdoutText.contains("kept \(stage)/etc/mcrun/mcrun.conf"), "\(again.stdoutText)")
        #expect(try String(contentsOfFile: stage + "/etc/mcrun/mcrun.conf", encoding: .utf8) == "state-dir = /srv/mcrun\n")

        let uninstall = try install(["--uninstall", "--destdir", stage, "--prefix", "/opt/mcrun"])
        #expect(uninstall.succeeded, "\(uninstall.stderrText)")
        for path in [
            "opt/mcrun/bin/mcrun", "opt/mcrun/lib/mcrun", "opt/mcrun/share/man/man1/mcrun.1", "etc/systemd/system/mcrun.service", "etc/sysusers.d/mcrun.conf",
        ] {
            #expect(!exists(stage + "/" + path), "\(path) survived --uninstall")
        }
        #expect(exists(stage + "/etc/mcrun/mcrun.conf"), "the configuration went without --purge")
        let notInstalled = try install(["--uninstall", "--destdir", stage, "--prefix", "/opt/mcrun"])
        #expect(notInstalled.status == 1 && notInstalled.stderrText.contains("installed-files not found"), "\(notInstalled.stderrText)")
        let purge = try install(["--uninstall", "--purge", "--destdir", stage, "--prefix", "/opt/mcrun"])
        #expect(purge.succeeded, "\(purge.stderrText)")
        #expect(!exists(stage + "/etc/mcrun"), "--purge left the configuration")
    }
}
