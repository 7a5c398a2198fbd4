import Contracts
import Foundation

/// One submitted event after its own checks (shape, catalog, time window); the customer's existence
/// and scope are checked per batch afterwards, in one query.
struct CheckedEvent: Sendable {
    let eventId: String
    let customerId: String
    let name: String
    let occurredAt: Date
    /// The properties as a JSON object text, typed values normalized (`NormalizedValue.jsonText`).
    let propertiesJSON: String
}

/// Why one submitted event was refused: `field` is the event's member at fault (`properties.amount`).
struct EventFault: Error, Sendable, Equatable {
    let code: String
    let message: String
    let field: String

    var body: JSONValue {
        .object(["code": .string(code), "message": .string(message), "details": .object(["field": .string(field)])])
    }

    /// The answer to a single-event request.
    var apiError: APIError {
        APIError(status: 422, code: code, message: message, details: .object(["field": .string(field)]))
    }

    static func invalid(_ field: String, _ message: String) -> EventFault {
        EventFault(code: "event_invalid", message: "\(field) \(message)", field: field)
    }
}

/// The checks of one event of `POST /api/v1/events`, against the catalog and the clock.
enum EventSubmission {
    /// Accepted occurrence window: clocks of the bank's systems drift a little into the future; older
    /// events than this are history loads that belong in an import, not in live aggregates.
    static let maximumFutureSkew: TimeInterval = 5 * 60
    static let maximumAge: TimeInterval = 3 * 366 * 86_400
    static let maximumEventIdBytes = 128
    static let maximumProperties = 100
    /// Bound on the properties of one event as stored (keeps rows and outbox payloads small).
    static let maximumPropertiesBytes = 16 << 10

    /// The checked event, or the first fault found (fields in a fixed order, so answers are stable).
    static func check(_ value: JSONValue, types: [String: EventType], acceptsUnknownEvents: Bool,
                      now: Date) -> Result<CheckedEvent, EventFault> {
        guard case .object(let object) = value else { return .failure(.invalid("$", "must be a JSON object")) }

        guard case .string(let eventId)? = object["eventId"] else {
            return .failure(.invalid("eventId", object["eventId"] == nil ? "is required" : "must be a string"))
        }
        guard (1...maximumEventIdBytes).contains(eventId.utf8.count), eventId.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(.invalid("eventId", "must be 1 to \(maximumEventIdBytes) printable ASCII characters without spaces"))
        }

        guard case .string(let customerId)? = object["customerId"] else {
            return .failure(.invalid("customerId", object["customerId"] == nil ? "is required" : "must be a string"))
        }
        guard CustomerStore.isCustomerId(customerId) else {
            return .failure(.invalid("customerId", "is not a customer id (1 to 64 letters, digits, _ . : -)"))
        }

        guard case .string(let name)? = object["name"] else {
            return .failure(.invalid("name", object["name"] == nil ? "is required" : "must be a string"))
        }
        guard EventType.isName(name) else {
            return .failure(.invalid("name", "must be a letter a-z followed by up to 63 of a-z, 0-9, _"))
        }
        let type = types[name]
        if type == nil && !acceptsUnknownEvents {
            return .failure(EventFault(code: "event_type_unknown", message: "event type \(name) is not in the catalog",
                                       field: "name"))
        }

        guard case .string(let occurredText)? = object["occurredAt"] else {
            return .failure(.invalid("occurredAt", object["occurredAt"] == nil ? "is required" : "must be a string"))
        }
        guard let occurredAt = AttributeType.timestamp(occurredText) else {
            return .failure(.invalid("occurredAt", "must be an RFC 3339 timestamp"))
        }
        guard occurredAt.timeIntervalSince(now) <= maximumFutureSkew else {
            return .failure(.invalid("occurredAt", "is more than 5 minutes in the future"))
        }
        guard now.timeIntervalSince(occurredAt) <= maximumAge else {
            return .failure(.invalid("occurredAt", "is more than 3 years in the past"))
        }

        let properties: [String: JSONValue]
        switch object["properties"] {
        case nil, .null?: properties = [:]
        case .object(let given)?: properties = given
        default: return .failure(.invalid("properties", "must be an object"))
        }
        guard properties.count <= maximumProperties else {
            return .failure(.invalid("properties", "has more than \(maximumProperties) members"))
        }
        var json = "{"
        var first = true
        for (key, raw) in properties.sorted(by: { $0.key < $1.key }) {
            let field = "properties.\(key)"
            guard EventType.isPropertyName(key) else {
                return .failure(.invalid(field, "is not a property name (a letter and up to 63 letters, digits or _)"))
            }
            if raw == .null { continue }   // absent
            let text: String
            if let declared = type?.properties[key] {
                switch declared.type.normalize(raw, enumValues: declared.values) {
                case .success(let normalized): text = normalized.jsonText
                case .failure(let why):
                    return .failure(EventFault(code: "event_property_invalid", message: "\(field) \(why.message)", field: field))
                }
            } else {
                // Undeclared (or of an unknown event type): kept as given, scalars only, for rules to compare.
                switch raw {
                case .string(let s):
                    guard s.count <= AttributeType.maximumStringLength else {
                        return .failure(.invalid(field, "is longer than \(AttributeType.maximumStringLength) characters"))
                    }
                    text = JSONString.quoted(s)
                case .number(let d):
                    guard d.isFinite else { return .failure(.invalid(field, "must be a finite number")) }
                    text = d.rounded() == d && abs(d) < 9.0e15 ? String(Int64(d)) : "\(d)"
                case .bool(let b): text = b ? "true" : "false"
                default:
                    return .failure(.invalid(field, "must be a string, number or boolean"))
                }
            }
            if !first { json += "," }
            first = false
            json += "\"" + key + "\":" + text   // a property name needs no escaping
        }
        json += "}"
        guard json.utf8.count <= maximumPropertiesBytes else {
            return .failure(.invalid("properties", "are larger than \(maximumPropertiesBytes) bytes"))
        }
        return .success(CheckedEvent(eventId: eventId, customerId: customerId, name: name, occurredAt: occurredAt,
                                     propertiesJSON: json))
    }
}
