/// An ordered list of header fields. Names compare case-insensitively; repeated fields are kept, never
/// silently overwritten (RFC 9110 §5.3), so callers choose between `first(_:)` and `values(_:)`.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Field = (name: String, value: String)
    @usableFromInline var fields: [Field]

    public init() { fields = [] }
    public init(_ fields: [Field]) { self.fields = fields }
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    public var count: Int { fields.count }
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// The first value of the field, or nil.
    public func first(_ name: String) -> String? {
        for f in fields where Self.equalNames(f.name, name) { return f.value }
        return nil
    }
    public subscript(name: String) -> String? { first(name) }

    /// Every value of the field, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.equalNames($0.name, name) }.map(\.value)
    }
    public func contains(_ name: String) -> Bool { first(name) != nil }

    /// Appends a field, keeping any existing one with the same name.
    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    /// Replaces every field with this name by one field.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name, value))
    }
    /// `set` for several fields at once, in one pass over the existing ones.
    public mutating func set(_ replacements: [Field]) {
        guard !replacements.isEmpty else { return }
        fields.removeAll { field in replacements.contains { Self.equalNames($0.name, field.name) } }
        fields.append(contentsOf: replacements)
    }

    public mutating func remove(_ name: String) { fields.removeAll { Self.equalNames($0.name, name) } }

    /// ASCII case-insensitive comparison without allocating. Header names are compared this way
    /// hundreds of times per proxied request, so native strings are compared as bytes in place.
    @inlinable
    public static func equalNames(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                for k in 0..<x.count where lowercase(x[k]) != lowercase(y[k]) { return false }
                return true
            }
        }
        if let fast, let answer = fast { return answer }
        return equalNames(a[...], b[...])
    }

    /// ASCII case-insensitive comparison without allocating.
    @inlinable
    public static func equalNames<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        var j = y.startIndex
        for c in x {
            if lowercase(c) != lowercase(y[j]) { return false }
            j = y.index(after: j)
        }
        return true
    }

    /// ASCII case-insensitive prefix test without allocating (`X-Lattice-User` has prefix `x-lattice-`).
    public static func name(_ name: String, hasPrefix prefix: String) -> Bool {
        var i = name.utf8.makeIterator()
        for p in prefix.utf8 {
            guard let c = i.next(), lowercase(c) == lowercase(p) else { return false }
        }
        return true
    }

    @inlinable @inline(__always)
    static func lowercase(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }
}
