/// Why one row of an import was rejected: its line in the file, the field at fault (nil when the row
/// as a whole is wrong) and a reason a bank clerk can act on.
public struct ImportRowError: Error, Sendable, Codable, Equatable {
    public var line: Int
    public var field: String?
    public var message: String

    public init(line: Int, field: String?, message: String) {
        self.line = line
        self.field = field.map { String($0.prefix(200)) }
        self.message = String(message.prefix(500))
    }
}
