/// Members in customer-id order for paging, without sorting them all for every page.
enum MemberOrder {
    /// The `count` smallest ids greater than `after` (all ids when nil), ascending.
    ///
    /// One pass keeping a sorted buffer of at most `count`: an id larger than the buffer's last is
    /// rejected with one comparison, which is what most ids are once the buffer is full, so a page
    /// costs about one comparison per member rather than a sort of all of them.
    static func smallest(_ count: Int, of ids: some Sequence<String>, after: String?) -> [String] {
        var smallest = Smallest(count, after: after)
        smallest.consider(ids)
        return smallest.ids
    }

    /// The same, fed in parts (chunks of members read one at a time).
    struct Smallest {
        let count: Int
        let after: String?
        /// Ascending, at most `count`.
        private(set) var ids: [String] = []

        init(_ count: Int, after: String?) {
            self.count = max(0, count)
            self.after = after
            ids.reserveCapacity(self.count + 1)
        }

        mutating func consider(_ candidates: some Sequence<String>) {
            guard count > 0 else { return }
            for id in candidates {
                if let after, id <= after { continue }
                if ids.count == count, let last = ids.last, id >= last { continue }
                var low = 0, high = ids.count
                while low < high {
                    let mid = (low + high) / 2
                    if ids[mid] < id { low = mid + 1 } else { high = mid }
                }
                ids.insert(id, at: low)
                if ids.count > count { ids.removeLast() }
            }
        }
    }
}
