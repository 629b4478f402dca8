import Glibc

/// Finds what an agent leaves behind: children that ignored SIGHUP, dev servers, MCP
/// servers. A process belongs to a runtime when it is in the agent's session (the pane
/// process is a session leader, so the session id is the agent's PID), or when its
/// environment carries the episode's nonce (which survives a double fork and setsid).
public enum Leftovers {
    public static func find(agent: AgentIdentity?, nonce: String, excluding: Set<Int32> = []) -> [AgentIdentity] {
        guard let bootID = ProcFS.bootID() else { return [] }
        let marker = Array("MCRUN_NONCE=\(nonce)".utf8)
        let me = getpid()
        // If the agent's PID now names another process that leads its own session, that
        // session is not ours: match by nonce only.
        var sessionIsOurs = agent != nil && agent!.bootID == bootID
        if let agent, sessionIsOurs, let now = ProcFS.stat(agent.pid), now.startTime != agent.startTime {
            sessionIsOurs = false
        }
        var found: [AgentIdentity] = []
        for pid in ProcFS.allPIDs() where pid != me && pid > 1 && !excluding.contains(pid) {
            guard let stat = ProcFS.stat(pid), !stat.hasExited else { continue }
            // The agent itself is the stopper's business; a process now holding the agent's
            // PID under another start time is not ours, whatever its environment says.
            if let agent, pid == agent.pid { continue }
            var ours = false
            if sessionIsOurs, let agent, stat.session == agent.pid, stat.startTime >= agent.startTime {
                ours = true
            } else if let env = ProcFS.environ(pid), env.contains(where: { $0 == marker }) {
                ours = true
            }
            if ours { found.append(AgentIdentity(bootID: bootID, pid: pid, startTime: stat.startTime)) }
        }
        return found
    }

    /// A runtime's leftovers killed, exactly where it has a cgroup (killed whole, then
    /// removed), else found by the search. Returns how many were killed.
    public static func kill(of runtime: Runtime) -> Int {
        if let cgroup = runtime.cgroup { return cgroup.killAll(agentPID: runtime.pid).killed }
        return kill(agent: runtime.identity, nonce: runtime.nonce)
    }

    /// SIGKILLs every leftover, through pidfds, and waits (bounded) until they are gone.
    /// Repeats the scan, since a dying parent may fork once more. Returns how many were killed.
    public static func kill(agent: AgentIdentity?, nonce: String, excluding: Set<Int32> = [], timeoutMilliseconds: Int = 3000) -> Int {
        var killed = Set<AgentIdentity>()
        let deadline = Instant.after(milliseconds: timeoutMilliseconds)
        for _ in 0..<5 {
            let found = find(agent: agent, nonce: nonce, excluding: excluding)
            if found.isEmpty { break }
            var handles: [ProcessHandle] = []
            for identity in found {
                guard let handle = ProcessHandle.open(identity) else { continue }
                if handle.signal(SIGKILL) { killed.insert(identity) }
                handles.append(handle)
            }
            for handle in handles {
                let left = deadline.remainingMilliseconds
                _ = handle.waitForExit(timeoutMilliseconds: left)
            }
            if deadline.hasPassed { break }
        }
        return killed.count
    }
}
