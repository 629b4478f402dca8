import Foundation
public import MCRunCore

extension SystemdNamespace {
    /// The mcrun binary as the namespace sees it: the build itself, or a copy of the three
    /// executables in the namespace's /run (a checkout under /tmp or /var is hidden by the
    /// namespace's private mounts).
    public func mcrunBinary() throws -> String {
        if Self.isVisibleInside(hostPath: Scratch.mcrunPath) { return Scratch.mcrunPath }
        let dir = "/run/mcrun-test-bin"
        try FileManager.default.createDirectory(atPath: hostPath(dir), withIntermediateDirectories: true)
        for name in ["mcrun", "mcrun-pane-log", "mcrun-shim"] {
            let target = hostPath(dir + "/" + name)
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: Scratch.binDirectory + "/" + name, toPath: target)
        }
        return dir + "/mcrun"
    }

    /// Runs mcrun inside the namespace; the JSON it printed, when it printed one.
    public func mcrun(_ arguments: [String]) async throws -> (CommandResult, JSONValue?) {
        let result = try await run([try mcrunBinary()] + arguments)
        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(result.standardOutput.utf8))
        return (result, json)
    }
}
