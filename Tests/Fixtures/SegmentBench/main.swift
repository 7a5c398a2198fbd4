// The engine half of `scripts/bench segment`: generates a synthetic bank (20 attributes, 50 tags, three
// event names with daily counts over 90 days) from a fixed seed, loads it into the segment engine's
// index one customer document at a time (as the profile's snapshot would), and times the estimate of a
// 3-condition rule. With an output folder it also writes the same population as COPY files for
// PostgreSQL, so the script can time PostgreSQL on the same data and check that both count the same.
//
// Usage: SegmentBench <customers> [<copy-folder>]
// Prints BENCH lines and `COUNT <n>` (the engine's answer), `TODAY <YYYY-MM-DD>`.
import Contracts
import Foundation
import Segment
import TestSupport

let arguments = CommandLine.arguments
guard arguments.count >= 2, let customers = Int(arguments[1]), customers > 0 else {
    FileHandle.standardError.write(Data("usage: SegmentBench <customers> [<copy-folder>]\n".utf8))
    exit(2)
}
let folder = arguments.count > 2 ? arguments[2] : nil
let timeZone = TimeZone(identifier: "Asia/Shanghai")!
// Noon in Shanghai: a day window and an exact window differ, and the engine must count local days.
let now = JSONCoding.parseDate("2026-12-02T04:00:00Z")!

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ permille: Int) -> Bool { below(1_000) < permille }
}

/// `YYYY-MM-DD` of the local day `offset` days from today, precomputed for the 90 days.
let today = LocalDayText(now: now, timeZone: timeZone)
struct LocalDayText {
    let keys: [String]   // index d: today - d
    init(now: Date, timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        keys = (0..<400).map { d in
            let c = calendar.dateComponents([.year, .month, .day], from: calendar.date(byAdding: .day, value: -d, to: now)!)
            return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
        }
    }
}

let cities = ["上海", "北京", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安",
              "天津", "重庆", "长沙", "郑州", "青岛", "宁波", "厦门", "福州", "合肥", "济南"]
let branches = ["/hq/sh/", "/hq/bj/", "/hq/gz/", "/hq/sz/", "/hq/sh/pd/"]
let eventNames = ["app_login", "fund_purchase", "card_swipe"]
/// Share of customers (‰) with each event, and the most days with it in 90 days.
let eventShare = [600, 300, 200], eventDays = [8, 3, 4]

final class CopyFiles {
    let customers: FileHandle, tags: FileHandle, events: FileHandle
    var buffers = ([UInt8](), [UInt8](), [UInt8]())
    init(folder: String) throws {
        func open(_ name: String) throws -> FileHandle {
            let path = folder + "/" + name
            FileManager.default.createFile(atPath: path, contents: nil)
            return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        }
        customers = try open("customers.tsv"); tags = try open("tags.tsv"); events = try open("events.tsv")
    }
    func flush(force: Bool = false) {
        if force || buffers.0.count > 1 << 20 { customers.write(Data(buffers.0)); buffers.0.removeAll(keepingCapacity: true) }
        if force || buffers.1.count > 1 << 20 { tags.write(Data(buffers.1)); buffers.1.removeAll(keepingCapacity: true) }
        if force || buffers.2.count > 1 << 20 { events.write(Data(buffers.2)); buffers.2.removeAll(keepingCapacity: true) }
    }
}

let copy = try folder.map { try CopyFiles(folder: $0) }
var index = CustomerIndex(timeZone: timeZone)
var random = SplitMix64(seed: 20_261_202)
let loadStarted = Date()
for n in 0..<customers {
    let id = "C" + String(n)
    let orgPath = branches[random.below(branches.count)]
    // 20 attributes: amounts as decimal text (as the profile sends numeric columns), codes, flags, times.
    let aum = random.below(10_000_000_00)
    let deposit = random.below(2_000_000_00)
    let aumText = String(aum / 100) + "." + (aum % 100 < 10 ? "0" : "") + String(aum % 100)
    let depositText = String(deposit / 100) + "." + (deposit % 100 < 10 ? "0" : "") + String(deposit % 100)
    let city = cities[random.below(cities.count)]
    let risk = "C" + String(1 + random.below(5))
    let gender = random.chance(500) ? "male" : "female"
    let age = 18 + random.below(70)
    let payroll = random.chance(300)
    let card = random.chance(450)
    let registered = now.addingTimeInterval(-Double(random.below(3_650 * 86_400)))
    let active = now.addingTimeInterval(-Double(random.below(120 * 86_400)))
    let products = random.below(12)
    let channel = ["app", "branch", "wechat", "web"][random.below(4)]
    let segmentScore = random.below(1_000)
    let loyalty = ["bronze", "silver", "gold", "platinum"][random.below(4)]
    let manager = "am" + String(random.below(500))
    let monthlySpend = random.below(50_000)
    let creditLimit = random.below(200) * 1_000
    let dependents = random.below(5)
    let occupation = ["staff", "manager", "owner", "retired", "student", "other"][random.below(6)]
    var attributes: [String: JSONValue] = [
        "aum": .string(aumText), "depositBalance": .string(depositText), "city": .string(city), "riskLevel": .string(risk),
        "gender": .string(gender), "age": .number(Double(age)), "isPayroll": .bool(payroll), "hasCreditCard": .bool(card),
        "registeredAt": .string(JSONCoding.formatDate(registered)), "lastActiveAt": .string(JSONCoding.formatDate(active)),
        "products": .number(Double(products)), "channel": .string(channel), "score": .number(Double(segmentScore)),
        "loyalty": .string(loyalty), "accountManagerId": .string(manager), "monthlySpend": .number(Double(monthlySpend)),
        "creditLimit": .number(Double(creditLimit)), "dependents": .number(Double(dependents)), "occupation": .string(occupation),
    ]
    attributes["orgId"] = .string(String(orgPath.split(separator: "/").last!))
    // 50 tags, tag_k held by about 30% / (k + 1) of customers, every fifth with a value.
    var tags: [String: String] = [:]
    for k in 0..<50 where random.below(1_000 * (k + 1)) < 300 {
        tags["tag_" + (k < 10 ? "0" : "") + String(k)] = k % 5 == 0 ? "v" + String(random.below(4)) : ""
    }
    var events: [String: CustomerFactsDocument.EventAggregate] = [:]
    for (e, name) in eventNames.enumerated() where random.chance(eventShare[e]) {
        var daily: [String: Int] = [:]
        var oldest = 0, newest = 89
        for _ in 0..<(1 + random.below(eventDays[e])) {
            let d = random.below(90)
            daily[today.keys[d], default: 0] += 1 + random.below(3)
            oldest = max(oldest, d); newest = min(newest, d)
        }
        let total = daily.values.reduce(0, +)
        events[name] = .init(total: Int64(total), firstAt: now.addingTimeInterval(-Double(oldest * 86_400 + 3_600)),
                             lastAt: now.addingTimeInterval(-Double(newest * 86_400 + 60)), daily: daily)
        if let copy {
            for (day, count) in daily { copy.buffers.2.append(contentsOf: Array("\(id)\t\(name)\t\(day)\t\(count)\n".utf8)) }
        }
    }
    index.apply(CustomerFactsDocument(customerId: id, exists: true, orgPath: orgPath, attributes: attributes, tags: tags, events: events))
    if let copy {
        copy.buffers.0.append(contentsOf: Array(("\(id)\t\(orgPath)\t\(aumText)\t\(depositText)\t\(city)\t\(risk)\t\(gender)\t\(age)\t\(payroll)\t\(card)\t"
            + "\(JSONCoding.formatDate(registered))\t\(JSONCoding.formatDate(active))\t\(products)\t\(channel)\t\(segmentScore)\t"
            + "\(loyalty)\t\(manager)\t\(monthlySpend)\t\(creditLimit)\t\(dependents)\t\(occupation)\n").utf8))
        for (code, value) in tags { copy.buffers.1.append(contentsOf: Array("\(id)\t\(code)\t\(value)\n".utf8)) }
        copy.flush()
    }
}
copy?.flush(force: true)
let loadSeconds = Date().timeIntervalSince(loadStarted)

// The 3-condition rule of the issue: an attribute range AND a tag AND an event count ≥ 2 within 30 days.
let rule = try Rule(json: .object(["all": .array([
    .object(["attr": .string("aum"), "op": .string("between"), "value": .array([.number(500_000), .number(5_000_000)])]),
    .object(["tag": .string("tag_03")]),
    .object(["event": .string("fund_purchase"), "count": .object(["op": .string("gte"), "value": .number(2)]), "within": .string("30d")]),
])]))
let engine = SegmentEvaluator(index: index, evaluator: RuleEvaluator(timeZone: timeZone))
var timings: [Double] = []
var count = 0
for _ in 0..<7 {
    let started = DispatchTime.now().uptimeNanoseconds
    count = engine.select(rule, orgPath: "/hq/", now: now).count
    timings.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
}
timings.sort()
// Each condition alone, over all customers (the median of 7 runs): where the estimate's time goes.
guard case .all(let conditions) = rule else { fatalError("the bench rule is an all") }
var parts: [(String, Double)] = []
for (name, condition) in zip(["attribute", "tag", "event"], conditions) {
    var t: [Double] = []
    for _ in 0..<7 {
        let started = DispatchTime.now().uptimeNanoseconds
        _ = engine.select(condition, orgPath: "/hq/", now: now).count
        t.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
    }
    parts.append((name, t.sorted()[3]))
}
let label = customers >= 1_000_000 && customers % 1_000_000 == 0 ? "\(customers / 1_000_000)m" : "\(customers)"
print("BENCH segment_index_load_\(label)_s \(String(format: "%.1f", loadSeconds)) s")
print("BENCH segment_index_bytes_per_customer_\(label) \(index.bytes / customers) bytes")
print("BENCH segment_index_memory_\(label)_mb \(index.bytes >> 20) MB")
for (part, bytes) in index.memory {
    print("BENCH segment_index_bytes_per_customer_\(label)_\(part.replacingOccurrences(of: " ", with: "_")) \(bytes / customers) bytes")
}
print("BENCH segment_estimate_\(label)_ms \(String(format: "%.1f", timings[timings.count / 2])) ms")
for (name, ms) in parts { print("BENCH segment_condition_\(name)_alone_\(label)_ms \(String(format: "%.1f", ms)) ms") }
print("COUNT \(count)")
print("TODAY \(today.keys[0]) FROM \(today.keys[29])")
