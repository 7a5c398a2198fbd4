/// Members in customer-id order for paging, without sorting them all for every page.
enum MemberOrder {
    /// The `count` smallest ids greater than `after` (all ids when nil), ascending.
    ///
    /// One pass keeping a sorted buffer of at most `count`: an id larger than the buffer's last is
    /// rejected with one comparison, which is what most ids are once the buffer is full, so a page
    /// costs about one comparison per member rather than a sort of all of them.
    static func smallest(_ count: Int, of ids: some Sequence<String>, after: String?) -> [String] {
        guard count > 0 else { return [] }
        var buffer: [String] = []
        buffer.reserveCapacity(count + 1)
        for id in ids {
            if let after, id <= after { continue }
            if buffer.count == count, let last = buffer.last, id >= last { continue }
            var low = 0, high = buffer.count
            while low < high {
                let mid = (low + high) / 2
                if buffer[mid] < id { low = mid + 1 } else { high = mid }
            }
            buffer.insert(id, at: low)
            if buffer.count > count { buffer.removeLast() }
        }
        return buffer
    }
}
