import MCRunCore
import Testing

struct AgentSettingsTests {
    @Test func settingsAreParsedStrictly() {
        #expect(AgentSettings.parse(#"{"a": [1, 2], "b": "x,}"}"#) == ["a": [1, 2], "b": "x,}"])
        #expect(AgentSettings.parse(#"{"a": "q\",", "b": 1}"#) != nil)
        #expect(AgentSettings.parse(#"{"a": 1,}"#) == nil)
        #expect(AgentSettings.parse("[1, 2 ,\n ]") == nil)
        #expect(AgentSettings.parse("{bad") == nil)
    }
}
