import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Parses Prometheus text with the real parser of the `prometheus_client` Python package
/// (Debian's python3-prometheus-client, installed by scripts/setup.sh); answers one JSON
/// object: family name -> {type, samples: [[name, labels, value]]}.
enum PrometheusParser {
    static let python = "/usr/bin/python3"
    static let program = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for f in text_string_to_metric_families(sys.stdin.read()):
            out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
        print(json.dumps(out))
        """

    static var available: Bool {
        (try? Subprocess.run([python, "-c", "import prometheus_client.parser"]))?.succeeded == true
    }

    /// Under CI a missing parser is a failure, not a skip.
    static var required: Bool { available || ProcessInfo.processInfo.environment["CI"] == "true" }

    static func parse(_ text: String) throws -> JSONValue {
        let result = try Subprocess.run([python, "-c", program], stdin: Array(text.utf8))
        guard result.succeeded else { throw ScratchError("the Prometheus parser rejected the exposition: \(result.stderrText)\n\(text)") }
        return try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout))
    }

    static func value(_ families: JSONValue, _ family: String, sample: String? = nil, labels: [String: String] = [:]) -> Double? {
        let samples = families.at(family)?.at("samples")?.arrayValue ?? []
        for s in samples {
            guard let parts = s.arrayValue, parts.count == 3, parts[0].stringValue == (sample ?? family) else { continue }
            if labels.allSatisfy({ parts[1].at($0.key)?.stringValue == $0.value }) { return parts[2].doubleValue }
        }
        return nil
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct MetricsTests {
    @Test(.enabled(if: PrometheusParser.required, "python3-prometheus-client is not installed (scripts/setup.sh installs it)"))
    func metricsOfARealDeathAndRelaunchPassTheParserAndMatchTheTextfile() throws {
        try #require(PrometheusParser.available, "python3-prometheus-client is missing: run scripts/setup.sh")
        let s = try Scratch(name: "metrics")
        defer { s.cleanup() }
        let textfile = s.path("mcrun.prom")
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "200ms", "--reconcile-interval", "300ms", "--metrics-textfile", textfile])
        try serve.waitUntilReady()
        let pid = try s.startAgent("M1", ["sleep", "1000"])
        try #require(try s.mcrun(["start", "M2", "--", "sleep", "1000"]).status == 0)
        kill(pid, SIGKILL)
        try waitUntil("the relaunch of M1", timeout: 15) { try s.runtimes("M1").last?.episode == 2 && s.runtimes("M1").last?.state == .running }

        let printed = try s.mcrun(["metrics"])
        #expect(printed.status == 0)
        let families = try PrometheusParser.parse(printed.stdoutText)
        #expect(families.at("mcrun_runtimes")?.at("type")?.stringValue == "gauge")
        #expect(PrometheusParser.value(families, "mcrun_runtimes", labels: ["state": "running"]) == 2)
        #expect(PrometheusParser.value(families, "mcrun_runtimes", labels: ["state": "dead"]) == 1)
        // The parser names counter families without _total.
        #expect(families.at("mcrun_deaths")?.at("type")?.stringValue == "counter")
        #expect(PrometheusParser.value(families, "mcrun_deaths", sample: "mcrun_deaths_total") == 1)
        #expect(PrometheusParser.value(families, "mcrun_relaunches", sample: "mcrun_relaunches_total") == 1)
        #expect(PrometheusParser.value(families, "mcrun_escalations", sample: "mcrun_escalations_total") == 0)
        #expect(PrometheusParser.value(families, "mcrun_serve_running") == 1)
        #expect(PrometheusParser.value(families, "mcrun_send_queue_depth") == 0)
        // serve noticed the death by its pidfd: one observation, recorded well within a second.
        #expect(families.at("mcrun_death_record_seconds")?.at("type")?.stringValue == "histogram")
        #expect(PrometheusParser.value(families, "mcrun_death_record_seconds", sample: "mcrun_death_record_seconds_count") == 1)
        #expect(PrometheusParser.value(families, "mcrun_death_record_seconds", sample: "mcrun_death_record_seconds_bucket", labels: ["le": "1"]) == 1)
        let age = try #require(PrometheusParser.value(families, "mcrun_serve_last_pass_age_seconds"))
        #expect(age >= 0 && age < 10)

        // serve writes the same families after its passes, whole each time (temp + rename).
        try waitUntil("the textfile to count the death", timeout: 10) {
            let text = (try? String(contentsOfFile: textfile, encoding: .utf8)) ?? ""
            return text.contains("mcrun_deaths_total 1\n") && text.contains("mcrun_relaunches_total 1\n")
        }
        let written = try PrometheusParser.parse(try String(contentsOfFile: textfile, encoding: .utf8))
        #expect(Set(written.objectValue?.keys.map { $0 } ?? []) == Set(families.objectValue?.keys.map { $0 } ?? []))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: s.directory).filter { $0.hasPrefix("mcrun.prom.") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        var st = stat()
        #expect(stat(textfile, &st) == 0 && st.st_mode & 0o777 == 0o644, "node_exporter must be able to read it")
    }

    @Test func doctorReportsTheRunningServeAndItsStatusFromTheHeartbeat() throws {
        let s = try Scratch(name: "doctor")
        defer { s.cleanup() }
        let (_, before) = try s.mcrunJSON(["doctor"])
        let idle = before.at("checks")?.arrayValue?.first { $0.at("name")?.stringValue == "serve" }
        #expect(idle?.at("status")?.stringValue == "warn")

        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "300ms", "--max-silent-retries", "2"])
        try serve.waitUntilReady()
        try #require(try s.mcrun(["start", "D1", "--", "sleep", "1000"]).status == 0)
        var check: JSONValue?
        try waitUntil("doctor to show serve's status with the new runtime", timeout: 10) {
            let (_, json) = try s.mcrunJSON(["doctor"])
            check = json.at("checks")?.arrayValue?.first { $0.at("name")?.stringValue == "serve" }
            return check?.at("detail")?.stringValue?.contains("1 live") == true
        }
        #expect(check?.at("status")?.stringValue == "ok")
        #expect(check?.at("detail")?.stringValue?.contains("pid \(serve.pid)") == true, "\(String(describing: check))")

        // A serve flag is a setting's source.
        let (_, config) = try s.mcrunJSON(["config", "max-silent-retries"])
        #expect(config.at("settings.max-silent-retries")?.stringValue == "2")
        #expect(config.at("sources.max-silent-retries")?.stringValue == "flag")
    }
}
