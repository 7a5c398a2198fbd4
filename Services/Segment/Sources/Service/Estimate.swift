import Foundation

/// The answer of `POST /api/v1/segments:estimate`.
public struct Estimate: Sendable, Encodable, Equatable {
    /// Customers of the caller's subtree satisfying the rule (global black list excluded).
    public var count: Int
    /// Up to `SegmentService.sampleSize` of them, by slot order (the order customers reached the index).
    public var sample: [String]
    /// Time spent answering, in milliseconds (name checks included).
    public var tookMs: Double
}

/// The answer of `POST /api/v1/segments:overlap`.
public struct Overlap: Sendable, Encodable, Equatable {
    public struct Side: Sendable, Encodable, Equatable {
        public var id: String
        public var count: Int
    }
    /// Each segment's size, in the order asked.
    public var segments: [Side]
    /// Customers in both.
    public var both: Int
    /// Customers in at least one.
    public var either: Int
}

/// One member in a page of `GET /api/v1/segments/{id}/members`.
public struct SegmentMember: Sendable, Encodable, Equatable {
    public var customerId: String
}
