import Foundation

/// The one error type every service throws for a failure its caller should see.
///
/// It becomes the JSON body of DESIGN.md §2: `{"error": {"code": ..., "message": ..., "details": ...}}`
/// with `status` as the HTTP status. `code` is a stable machine-readable word (`segment_rule_invalid`);
/// `message` is for people; `details` names the field or node at fault.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var details: JSONValue?
    /// Seconds a client should wait before retrying (429 and 503); sent as `Retry-After`.
    public var retryAfterSeconds: Int?

    public init(status: Int, code: String, message: String, details: JSONValue? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// The JSON document sent to the client.
    public var body: JSONValue {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let details { error["details"] = details }
        return .object(["error": .object(error)])
    }

    // MARK: The usual ones

    /// 400: the request is malformed; `field` is the JSON path or parameter at fault.
    public static func badRequest(_ message: String, field: String? = nil, code: String = "bad_request") -> APIError {
        APIError(status: 400, code: code, message: message, details: field.map { .object(["field": .string($0)]) })
    }
    public static func unauthorized(_ message: String = "authentication required") -> APIError {
        APIError(status: 401, code: "unauthorized", message: message)
    }
    public static func forbidden(_ message: String = "not allowed") -> APIError {
        APIError(status: 403, code: "forbidden", message: message)
    }
    public static func notFound(_ message: String = "not found", code: String = "not_found") -> APIError {
        APIError(status: 404, code: code, message: message)
    }
    public static func conflict(_ message: String, code: String = "conflict") -> APIError {
        APIError(status: 409, code: code, message: message)
    }
    /// 422: well-formed input that breaks a rule or a state machine.
    public static func unprocessable(_ message: String, code: String, details: JSONValue? = nil) -> APIError {
        APIError(status: 422, code: code, message: message, details: details)
    }
    public static func tooManyRequests(retryAfter: Int) -> APIError {
        APIError(status: 429, code: "rate_limited", message: "too many requests", retryAfterSeconds: retryAfter)
    }
    public static func unavailable(_ message: String, code: String = "unavailable", retryAfter: Int = 1) -> APIError {
        APIError(status: 503, code: code, message: message, retryAfterSeconds: retryAfter)
    }
    public static func internalError(_ message: String = "internal error") -> APIError {
        APIError(status: 500, code: "internal", message: message)
    }
}

// MARK: Reading an error sent by another service

extension APIError {
    /// The error carried by a response body of the form `{"error": {"code", "message", "details"}}`, or
    /// nil when the body is not that document (an HTML error page from a proxy, say). `status` and
    /// `retryAfterSeconds` come from the response line and headers, which the body does not repeat.
    public init?(status: Int, body: [UInt8], retryAfterSeconds: Int? = nil) {
        guard !body.isEmpty,
              let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body)) else { return nil }
        self.init(status: status, code: envelope.error.code, message: envelope.error.message,
                  details: envelope.error.details, retryAfterSeconds: retryAfterSeconds)
    }
}

/// The wire shape of `APIError.body`, for decoding only.
private struct ErrorEnvelope: Decodable {
    struct Inner: Decodable {
        var code: String
        var message: String
        var details: JSONValue?
    }
    var error: Inner
}
