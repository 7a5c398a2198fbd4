/// PostgreSQL type OIDs this layer knows by name (from `pg_type.dat`; stable across versions).
public enum PostgresType {
    public static let unknown: UInt32 = 0
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let varchar: UInt32 = 1043
    public static let date: UInt32 = 1082
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    public static let boolArray: UInt32 = 1000
    public static let byteaArray: UInt32 = 1001
    public static let int2Array: UInt32 = 1005
    public static let int4Array: UInt32 = 1007
    public static let textArray: UInt32 = 1009
    public static let varcharArray: UInt32 = 1015
    public static let int8Array: UInt32 = 1016
    public static let float4Array: UInt32 = 1021
    public static let float8Array: UInt32 = 1022
    public static let timestampArray: UInt32 = 1115
    public static let dateArray: UInt32 = 1182
    public static let timestamptzArray: UInt32 = 1185
    public static let numericArray: UInt32 = 1231
    public static let uuidArray: UInt32 = 2951
    public static let jsonbArray: UInt32 = 3807

    /// A readable name for error messages.
    public static func name(of type: UInt32) -> String {
        switch type {
        case bool: return "boolean"
        case bytea: return "bytea"
        case int8: return "bigint"
        case int2: return "smallint"
        case int4: return "integer"
        case text: return "text"
        case oid: return "oid"
        case json: return "json"
        case float4: return "real"
        case float8: return "double precision"
        case varchar: return "varchar"
        case date: return "date"
        case timestamp: return "timestamp"
        case timestamptz: return "timestamptz"
        case numeric: return "numeric"
        case uuid: return "uuid"
        case jsonb: return "jsonb"
        case boolArray: return "boolean[]"
        case byteaArray: return "bytea[]"
        case int2Array: return "smallint[]"
        case int4Array: return "integer[]"
        case textArray: return "text[]"
        case varcharArray: return "varchar[]"
        case int8Array: return "bigint[]"
        case float4Array: return "real[]"
        case float8Array: return "double precision[]"
        case timestampArray: return "timestamp[]"
        case dateArray: return "date[]"
        case timestamptzArray: return "timestamptz[]"
        case numericArray: return "numeric[]"
        case uuidArray: return "uuid[]"
        case jsonbArray: return "jsonb[]"
        default: return "oid \(type)"
        }
    }

    /// The element type of a known array type, or `unknown`.
    static func elementType(ofArray oid: UInt32) -> UInt32 {
        switch oid {
        case boolArray: return bool
        case byteaArray: return bytea
        case int2Array: return int2
        case int4Array: return int4
        case textArray: return text
        case varcharArray: return varchar
        case int8Array: return int8
        case float4Array: return float4
        case float8Array: return float8
        case timestampArray: return timestamp
        case dateArray: return date
        case timestamptzArray: return timestamptz
        case numericArray: return numeric
        case uuidArray: return uuid
        case jsonbArray: return jsonb
        default: return unknown
        }
    }
}
