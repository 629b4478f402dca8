import Foundation
import MCRunTestSupport
import Testing

/// Boots a real systemd (see `SystemdNamespace`). Needs root; skipped, with the reason,
/// where the machine cannot do it.
@Suite(
    .serialized,
    .timeLimit(.minutes(5)),
    .needsSystemdNamespace)
struct SystemdNamespaceTests {
    @Test func aNotifyUnitBecomesActiveWithItsStatusAndTheHostTmpIsUntouched() async throws {
        let marker = FileManager.default.temporaryDirectory
            .appendingPathComponent("mcrun-tmp-marker-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: marker, contents: Data("keep me".utf8)))
        defer { try? FileManager.default.removeItem(atPath: marker) }

        let ns = try await SystemdNamespace.boot()
        defer { ns.shutdown() }
        try await ns.install(
            unit: """
                [Unit]
                Description=notify smoke test

                [Service]
                Type=notify
                NotifyAccess=all
                ExecStart=/bin/sh -c 'systemd-notify --ready --status="hello"; exec sleep 600'
                """,
            name: "hello.service")
        try await ns.systemctl("start", "--no-block", "hello.service")
        try await ns.waitFor("hello.service", toHave: ["ActiveState": "active", "StatusText": "hello"])
        let state = try await ns.show("hello.service", ["SubState", "MainPID", "NRestarts"])
        #expect(state["SubState"] == "running")
        #expect(state["NRestarts"] == "0")
        #expect((state["MainPID"].flatMap { Int($0) } ?? 0) > 1)
        #expect(try await ns.journal("hello.service", format: "cat").contains("Started hello.service"))

        // The namespace's /tmp and /run are its own.
        #expect(!FileManager.default.fileExists(atPath: ns.hostPath(marker)))
        #expect(!FileManager.default.fileExists(atPath: "/run/systemd/system/hello.service"))

        ns.shutdown()
        #expect(kill(ns.systemdPID, 0) == -1, "the namespace's systemd outlived shutdown()")
        #expect(FileManager.default.fileExists(atPath: marker), "the host's /tmp lost a file while systemd ran")
    }

    @Test func aTimedOutWaitSaysWhatItSawAndWhatTheUnitLogged() async throws {
        try await SystemdNamespace.withBooted { ns in
            try await ns.install(
                unit: """
                    [Service]
                    Type=notify
                    ExecStart=/bin/sh -c 'echo never ready; exec sleep 600'
                    """,
                name: "silent.service")
            try await ns.systemctl("start", "--no-block", "silent.service")
            try await ns.waitFor("silent.service", toHave: ["ActiveState": "activating"])
            let error = await #expect(throws: HarnessError.self) {
                try await ns.waitFor("silent.service", toHave: ["ActiveState": "active"], timeout: .milliseconds(300))
            }
            let message = error?.description ?? ""
            #expect(message.contains("waiting for silent.service to have ActiveState=active"), "\(message)")
            #expect(message.contains("last seen ActiveState=activating"), "\(message)")
            #expect(message.contains("never ready"), "\(message)")
        }
    }
}
