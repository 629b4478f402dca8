import MCRunCore
import Testing

struct DeliveryReceiptTests {
    @Test func thePromptAsAnAgentSubmitsItMatchesWhatWasPasted() {
        let pasted = DeliveryReceipt.digest(Array("  fix the parser \t\r\nthen run the tests\r\n\n".utf8))
        #expect(DeliveryReceipt.digest("fix the parser\nthen run the tests") == pasted)
        #expect(DeliveryReceipt.digest("fix the parser\rthen run the tests\n") == pasted)
        // Composed and decomposed forms of the same text.
        #expect(DeliveryReceipt.digest("caf\u{e9}") == DeliveryReceipt.digest("cafe\u{301}"))
        // Invalid UTF-8 is read as U+FFFD, as in the hook's JSON.
        #expect(DeliveryReceipt.digest([0x61, 0xff, 0x62]) == DeliveryReceipt.digest("a\u{fffd}b"))
    }

    @Test func differentTextDiffers() {
        #expect(DeliveryReceipt.digest("fix the parser") != DeliveryReceipt.digest("fix the parse"))
        #expect(DeliveryReceipt.digest("a\n\nb") != DeliveryReceipt.digest("a\nb"))
        #expect(DeliveryReceipt.digest("a b") != DeliveryReceipt.digest("a  b"))
        #expect(DeliveryReceipt.digest("x").count == 16)
    }

    @Test func normalisedKeepsInnerLinesAndDropsTrailingBlanks() {
        #expect(DeliveryReceipt.normalised("\n\n  one  \r\n\r\ntwo\t\n\n") == "one\n\ntwo")
        #expect(DeliveryReceipt.normalised("") == "")
    }

    @Test func thePromptOfUserPromptSubmitIsRead() {
        let input = AgentHookInput.classify(JSONValue.parse(#"{"hook_event_name":"UserPromptSubmit","prompt":"do it"}"#) ?? .null)
        #expect(input.prompts == ["do it"])
        #expect(AgentHookInput.classify(JSONValue.parse(#"{"hook_event_name":"PreToolUse","prompt":"no"}"#) ?? .null).prompts.isEmpty)
    }
}
