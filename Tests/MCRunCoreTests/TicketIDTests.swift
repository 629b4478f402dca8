import MCRunCore
import Testing

@Suite struct TicketIDTests {
    @Test(arguments: ["A1", "T-42", "proj_7", "x", String(repeating: "a", count: 64), "9lives"])
    func acceptsPlainIDs(_ raw: String) throws {
        #expect(try TicketID(validating: raw).rawValue == raw)
    }

    /// tmux rewrites `:` and `.` in session names, so `A:1` and `A_1` would collide; a leading
    /// `-` would read as an option; anything else could reach a shell or a tmux target.
    @Test(arguments: ["A:1", "a.b", "$(touch x)", "-t", "", String(repeating: "a", count: 65), "a b", "a/b", "_x", "é", "a\nb", "A@1"])
    func rejectsEverythingElse(_ raw: String) {
        #expect(throws: MCRunError.self) { try TicketID(validating: raw) }
        do {
            _ = try TicketID(validating: raw)
        } catch {
            #expect(error.code == .badInput)
            #expect(error.reason == "bad_ticket")
            #expect(!error.message.contains("\n"))
        }
    }
}
