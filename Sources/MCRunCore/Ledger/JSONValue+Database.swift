import Foundation
public import GRDB

/// Stored as JSON text. Without this, GRDB decodes the column through the single-value
/// container, where SQLite's text-to-integer conversion lets `decode(Bool.self)` succeed
/// and every event's data reads back as `false`.
extension JSONValue: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue {
        jsonText.databaseValue
    }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> JSONValue? {
        guard let text = String.fromDatabaseValue(dbValue) else { return dbValue.isNull ? .null : nil }
        return JSONValue.parse(text)
    }
}
