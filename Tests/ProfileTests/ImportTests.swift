import Contracts
import Foundation
import HTTP
import Postgres
@testable import Profile
import ServiceKit
import TestSupport
import XCTest

/// `POST /api/v1/customers:import` and `GET /api/v1/imports/{id}`: parsing, the shared validator, org
/// scope, merge semantics, crash safety of the batched merge, and throughput over a real socket.
final class ImportTests: XCTestCase {
    var harness: ProfileHarness!

    override func setUpWithError() throws {
        harness = try ProfileHarness()
    }

    override func tearDown() {
        harness = nil
    }

    var merger: ImportMerger { ImportMerger(database: harness.pool, limits: ImportLimits()) }

    /// Uploads through the router (a buffered body) and checks the 202.
    func upload(_ body: String, as caller: CallerIdentity = ProfileHarness.hqAdmin,
                contentType: String = "text/csv") throws -> JSONValue {
        let response = try harness.call(.POST, "/api/v1/customers:import", as: caller, body: Array(body.utf8),
                                        contentType: contentType)
        XCTAssertEqual(response.status, 202, response.text)
        XCTAssertEqual(response.headers["location"], "/api/v1/imports/\(response.json["id"]?.stringValue ?? "")")
        return response.json
    }

    /// Uploads, merges every batch (as the job would) and returns the finished job.
    func importAndMerge(_ body: String, as caller: CallerIdentity = ProfileHarness.hqAdmin,
                        contentType: String = "text/csv") throws -> JSONValue {
        let id = try XCTUnwrap(try upload(body, as: caller, contentType: contentType)["id"]?.stringValue)
        while try merger.mergeNextBatch(importId: id) {}
        let job = try harness.call(.GET, "/api/v1/imports/\(id)", as: caller)
        XCTAssertEqual(job.status, 200, job.text)
        return job.json
    }

    func customer(_ id: String) throws -> PostgresRow? {
        try harness.pool.query("""
            SELECT id, org_id, name, phone, city, aum::text AS aum, risk_level, is_payroll, attributes::text AS attributes
            FROM customers WHERE id = $1
            """, id).first
    }

    func errors(_ job: JSONValue) -> [(Int, String?, String)] {
        guard case .array(let items)? = job["errors"] else { return [] }
        return items.map { ($0["line"]?.intValue ?? -1, $0["field"]?.stringValue, $0["message"]?.stringValue ?? "") }
    }

    // MARK: Happy paths

    func testCSVWithBOMCRLFAndQuotedFieldsIsMerged() throws {
        let csv = "\u{FEFF}id,name,city,aum,riskLevel\r\n"
            + "C1,\"王, 芳\",上海,500000.01,C3\r\n"
            + "C2,\"He said \"\"hi\"\"\",\"line one\nline two\",12,C1\r\n"
            + "C3,Plain,,0,C5"   // no final line break; an empty city clears
        let job = try importAndMerge(csv)
        XCTAssertEqual(job["status"], "done")
        XCTAssertEqual(job["total"], 3)
        XCTAssertEqual(job["processed"], 3)
        XCTAssertEqual(job["accepted"], 3)
        XCTAssertEqual(job["rejected"], 0)
        XCTAssertNotEqual(job["finishedAt"], .null)
        let c1 = try XCTUnwrap(customer("C1"))
        XCTAssertEqual(try c1.decode("name", as: String.self), "王, 芳")
        XCTAssertEqual(try c1.decode("aum", as: String.self), "500000.01")
        XCTAssertEqual(try c1.decode("org_id", as: String.self), "hq")   // no orgId: the caller's unit
        let c2 = try XCTUnwrap(customer("C2"))
        XCTAssertEqual(try c2.decode("name", as: String.self), "He said \"hi\"")
        XCTAssertEqual(try c2.decode("city", as: String.self), "line one\nline two")
        XCTAssertNil(try XCTUnwrap(customer("C3")).decode("city", as: String?.self))
    }

    func testNDJSONRowsWithCustomAttributesMergeLikePut() throws {
        XCTAssertEqual(try harness.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                        json: #"{"code":"loyalty","name":"积分等级","type":"int"}"#).status, 201)
        // An existing customer: columns absent from a row keep their values.
        XCTAssertEqual(try harness.call(.PUT, "/api/v1/customers/N1", as: ProfileHarness.hqAdmin,
                                        json: #"{"name":"Old","city":"北京","loyalty":1}"#).status, 201)
        let ndjson = """
            {"id":"N1","name":"New","loyalty":"7"}

            {"id":"N2","aum":100.5,"isPayroll":true,"orgId":"sh"}\r
            {"id":"N3","vipLevelX":"gold"}
            not json
            [1,2]
            """
        let job = try importAndMerge(ndjson, contentType: "application/x-ndjson")
        XCTAssertEqual(job["status"], "done")
        XCTAssertEqual(job["total"], 5)
        XCTAssertEqual(job["accepted"], 2)
        XCTAssertEqual(job["rejected"], 3)
        let errs = errors(job)
        XCTAssertEqual(errs.map(\.0), [4, 5, 6])   // physical lines: the blank line 2 counts
        XCTAssertEqual(errs[0].1, "vipLevelX")
        XCTAssertNil(errs[1].1)
        let n1 = try XCTUnwrap(customer("N1"))
        XCTAssertEqual(try n1.decode("name", as: String.self), "New")
        XCTAssertEqual(try n1.decode("city", as: String.self), "北京")       // kept
        XCTAssertEqual(try n1.decode("attributes", as: String.self), #"{"loyalty": 7}"#)
        let n2 = try XCTUnwrap(customer("N2"))
        XCTAssertEqual(try n2.decode("org_id", as: String.self), "sh")
        XCTAssertEqual(try n2.decode("is_payroll", as: Bool.self), true)
        // The change feed saw the merged customers.
        let changed = try harness.pool.query("SELECT count(DISTINCT customer_id) AS n FROM customer_changes WHERE customer_id IN ('N1','N2')")
        XCTAssertEqual(try changed[0].decode("n", as: Int.self), 2)
    }

    // MARK: Bad rows

    func testBadRowsAreReportedWithLineNumbersAndGoodRowsKept() throws {
        let csv = """
            id,name,phone,aum
            B1,Good,13812345678,10
            B2,BadAum,13812345678,lots
            B3,BadPhone,12,10
            ,NoId,13812345678,10
            B5,TooFew
            B6,"multi
            line",13812345678,20
            B7,AfterMulti,13812345678,-5
            B8,"bad"quote,1,1
            B9,Good,,
            """
        let job = try importAndMerge(csv)
        XCTAssertEqual(job["status"], "done")
        XCTAssertEqual(job["total"], 9)
        XCTAssertEqual(job["processed"], 9)
        XCTAssertEqual(job["accepted"], 3)
        XCTAssertEqual(job["rejected"], 6)
        let errs = errors(job)
        XCTAssertEqual(errs.map(\.0), [3, 4, 5, 6, 9, 10])
        XCTAssertEqual(errs.map(\.1), ["aum", "phone", "id", nil, "aum", nil])
        XCTAssertTrue(errs[3].2.contains("has 2 fields; the header has 4"), errs[3].2)
        XCTAssertTrue(errs[4].2.contains("negative"), errs[4].2)
        XCTAssertNotNil(try customer("B1"))
        XCTAssertNotNil(try customer("B6"))
        XCTAssertNotNil(try customer("B9"))
        XCTAssertNil(try customer("B2"))
        XCTAssertNil(try customer("B7"))
    }

    func testEveryBadRowCanBeListedPageByPage() throws {
        // 450 bad rows (more than the job view shows) between good ones.
        var csv = "id,name,aum\n"
        for i in 1...600 { csv += i % 4 == 0 ? "G\(i),ok,1\n" : "E\(i),bad,minus\n" }
        let job = try importAndMerge(csv)
        let id = try XCTUnwrap(job["id"]?.stringValue)
        XCTAssertEqual(job["rejected"], 450)
        XCTAssertEqual(job["accepted"], 150)
        XCTAssertEqual(errors(job).count, 100)

        var lines: [Int] = []
        var cursor: String?
        var pages = 0
        repeat {
            let r = try harness.call(.GET, "/api/v1/imports/\(id)/errors?limit=200" + (cursor.map { "&cursor=\($0)" } ?? ""),
                                     as: ProfileHarness.hqAdmin)
            XCTAssertEqual(r.status, 200, r.text)
            if case .array(let items)? = r.json["items"] { lines += items.compactMap { $0["line"]?.intValue } }
            cursor = r.json["nextCursor"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 10
        XCTAssertEqual(pages, 3)
        // Physical lines: the header is line 1, so row i is on line i + 1.
        XCTAssertEqual(lines, (1...600).filter { $0 % 4 != 0 }.map { $0 + 1 })

        XCTAssertEqual(try harness.call(.GET, "/api/v1/imports/\(id)/errors", as: ProfileHarness.bjOperator).status, 404)
        let badCursor = try harness.call(.GET, "/api/v1/imports/\(id)/errors?cursor=abc", as: ProfileHarness.hqAdmin)
        XCTAssertEqual(badCursor.status, 400)
        XCTAssertEqual(badCursor.json["error"]?["details"]?["field"], "cursor")
        XCTAssertEqual(try harness.call(.GET, "/api/v1/imports/\(id)/errors?limit=5000", as: ProfileHarness.hqAdmin).status, 400)
    }

    func testHeaderAndFormatAreCheckedUpFront() throws {
        func post(_ body: String, _ type: String) throws -> TestResponse {
            try harness.call(.POST, "/api/v1/customers:import", as: ProfileHarness.hqAdmin, body: Array(body.utf8), contentType: type)
        }
        let unknown = try post("id,nickname\nX1,a\n", "text/csv")
        XCTAssertEqual(unknown.status, 422, unknown.text)
        XCTAssertEqual(unknown.json["error"]?["details"]?["field"], "header.nickname")
        XCTAssertEqual(try post("name,aum\nA,1\n", "text/csv").status, 422)                 // no id
        XCTAssertEqual(try post("id,name,name\nA,b,c\n", "text/csv").status, 422)          // twice
        XCTAssertEqual(try post("id,consents\nA,x\n", "text/csv").status, 422)             // consents need evidence
        XCTAssertEqual(try post("id\nA\n", "application/json").status, 415)
        XCTAssertEqual(try post("", "text/csv").status, 400)
        XCTAssertEqual(try harness.pool.query("SELECT count(*) AS n FROM imports")[0].decode("n", as: Int.self), 0)
    }

    // MARK: Org scope

    /// A CSV row's cells are checked column by column (resolved once from the header), an NDJSON
    /// object through `CustomerUpdate.parse`: the same rows get the same verdicts, the same first
    /// fault of several, and merge to the same customers.
    func testCSVAndNDJSONRowsGetTheSameVerdicts() throws {
        XCTAssertEqual(try harness.call(.POST, "/api/v1/attributes", as: ProfileHarness.hqAdmin,
                                        json: #"{"code":"loyalty","name":"积分等级","type":"int"}"#).status, 201)
        let header = ["id", "riskLevel", "orgId", "name", "aum", "loyalty", "isPayroll", "phone"]
        let rows: [[String]] = [
            ["P1", "C2", "sh", "张三", "007.50", "7", "是", "+8613812345678"],
            ["P2", "C9", "sh", "Bad risk and aum", "lots", "x", "maybe", "12"],   // first by key: aum
            ["P3", "C1", "", "No unit: the caller's", "", "", "", ""],             // empty cells clear
            ["P4", "C1", "bj", "Outside and bad loyalty", "1", "x", "no", "13812345678"],   // loyalty before orgId's scope
            ["P5", "C1", "bj", "Outside only", "1", "1", "no", "13812345678"],
            ["P6", "C3", "nowhere", "Unknown unit", "1", "1", "1", "13812345678"],
            ["bad id!", "C1", "sh", "Bad id", "1", "1", "1", "13812345678"],
            ["P8", "C1", "sh", String(repeating: "名", count: 101), "1", "1", "1", "13812345678"],
            ["P9", "C1", "sh", "Negative", "-1", "2", "n", "13812345678"],
        ]
        func csvField(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"\(s.replacingOccurrences(of: "\"", with: "\"\""))\"" : s }
        let csv = ([header] + rows).map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\n")
        let ndjson = rows.map { row -> String in
            var object: [String: JSONValue] = [:]
            for (key, cell) in zip(header, row) where !(key == "orgId" && cell.isEmpty) { object[key] = .string(cell) }
            return String(decoding: try! JSONEncoder().encode(JSONValue.object(object)), as: UTF8.self)
        }.joined(separator: "\n")

        func merged() throws -> [[String]] {
            try harness.pool.query("""
                SELECT id, org_id, name, phone, aum::text AS aum, risk_level, is_payroll::text AS is_payroll,
                       attributes::text AS attributes
                FROM customers WHERE id LIKE 'P%' ORDER BY id
                """).map { row in try ["id", "org_id", "name", "phone", "aum", "risk_level", "is_payroll", "attributes"].map {
                    try row.decode($0, as: String?.self) ?? "∅" } }
        }
        let viaCSV = try importAndMerge(csv, as: ProfileHarness.shOperator)
        let csvCustomers = try merged()
        _ = try harness.pool.execute("DELETE FROM customers WHERE id LIKE 'P%'")
        let viaNDJSON = try importAndMerge(ndjson, as: ProfileHarness.shOperator, contentType: "application/x-ndjson")
        let ndjsonCustomers = try merged()

        // CSV lines count the header: line n+1 there is line n of the NDJSON file.
        let csvErrors = errors(viaCSV).map { "\($0.0 - 1) \($0.1 ?? "-"): \($0.2)" }
        let ndjsonErrors = errors(viaNDJSON).map { "\($0.0) \($0.1 ?? "-"): \($0.2)" }
        XCTAssertEqual(csvErrors, ndjsonErrors)
        XCTAssertEqual(errors(viaCSV).map(\.1), ["aum", "loyalty", "orgId", "orgId", "id", "name", "aum"])
        XCTAssertEqual(viaCSV["accepted"], 2)
        XCTAssertEqual(csvCustomers, ndjsonCustomers)
        XCTAssertEqual(csvCustomers.map { $0[0] }, ["P1", "P3"])
        XCTAssertEqual(csvCustomers.first, ["P1", "sh", "张三", "+8613812345678", "7.50", "C2", "true", #"{"loyalty": 7}"#])
        XCTAssertEqual(csvCustomers.last, ["P3", "sh", "No unit: the caller's", "∅", "∅", "C1", "∅", "{}"])
    }

    func testRowsForUnitsOutsideTheCallersSubtreeAreRejectedPerRow() throws {
        let csv = """
            id,orgId,name
            S1,sh_pd,In sub-branch
            S2,bj,Other branch
            S3,nowhere,Unknown unit
            S4,,Own unit
            """
        let job = try importAndMerge(csv, as: ProfileHarness.shOperator)
        XCTAssertEqual(job["accepted"], 2)
        XCTAssertEqual(job["rejected"], 2)
        XCTAssertEqual(errors(job).map(\.0), [3, 4])
        XCTAssertEqual(errors(job).map(\.1), ["orgId", "orgId"])
        XCTAssertEqual(try XCTUnwrap(customer("S1")).decode("org_id", as: String.self), "sh_pd")
        XCTAssertEqual(try XCTUnwrap(customer("S4")).decode("org_id", as: String.self), "sh")
        XCTAssertNil(try customer("S2"))
    }

    func testAnotherBranchsExistingCustomerIsNotOverwritten() throws {
        XCTAssertEqual(try harness.call(.PUT, "/api/v1/customers/BJ1", as: ProfileHarness.bjOperator,
                                        json: #"{"name":"北京客户","aum":1}"#).status, 201)
        let job = try importAndMerge("id,name,aum\nBJ1,Taken,999\nSH1,Mine,5\n", as: ProfileHarness.shOperator)
        XCTAssertEqual(job["accepted"], 1)
        XCTAssertEqual(job["rejected"], 1)
        XCTAssertEqual(errors(job).first?.0, 2)
        XCTAssertEqual(errors(job).first?.1, "id")
        let kept = try XCTUnwrap(customer("BJ1"))
        XCTAssertEqual(try kept.decode("name", as: String.self), "北京客户")
        XCTAssertEqual(try kept.decode("aum", as: String.self), "1.00")
        XCTAssertEqual(try kept.decode("org_id", as: String.self), "bj")
    }

    func testImportsAreScopedToTheCallersSubtreeAndShowProgress() throws {
        let created = try upload("id,name\nP1,a\nP2,b\nbad id!,c\n", as: ProfileHarness.pdOperator)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        // Staged, not yet merged: the parse errors are final, the rest is pending.
        XCTAssertEqual(created["status"], "merging")
        XCTAssertEqual(created["total"], 3)
        XCTAssertEqual(created["processed"], 1)
        XCTAssertEqual(created["rejected"], 1)
        XCTAssertEqual(created["accepted"], 0)
        XCTAssertEqual(created["finishedAt"], .null)
        XCTAssertEqual(try harness.call(.GET, "/api/v1/imports/\(id)", as: ProfileHarness.bjOperator).status, 404)
        XCTAssertEqual(try harness.call(.GET, "/api/v1/imports/\(id)", as: ProfileHarness.shViewer).status, 200)  // ancestor
        XCTAssertEqual(try harness.call(.GET, "/api/v1/imports/imp_00000000000000000000", as: ProfileHarness.hqAdmin).status, 404)
        XCTAssertEqual(try harness.call(.GET, "/api/v1/imports/x", as: ProfileHarness.hqAdmin).status, 404)
        while try merger.mergeNextBatch(importId: id) {}
        let done = try harness.call(.GET, "/api/v1/imports/\(id)", as: ProfileHarness.pdOperator).json
        XCTAssertEqual(done["status"], "done")
        XCTAssertEqual(done["processed"], 3)
        XCTAssertEqual(done["accepted"], 2)
        XCTAssertEqual(try XCTUnwrap(customer("P1")).decode("org_id", as: String.self), "sh_pd")
    }

    // MARK: Crash safety

    struct SimulatedCrash: Error {}

    func testAKilledMergeLeavesNoHalfMergedBatchAndResumes() throws {
        var csv = "id,name,aum\n"
        for i in 1...10 { csv += "K\(i),name \(i),\(i)\n" }
        csv += "K3,again,33\n"   // a repeated id: applied after line 4's row
        let id = try XCTUnwrap(try upload(csv)["id"]?.stringValue)
        func count(_ sql: String) throws -> Int { try harness.pool.query(sql, id)[0].decode("n") }
        let merged = "SELECT count(*) AS n FROM customers WHERE id LIKE 'K%' AND $1::text IS NOT NULL"

        XCTAssertTrue(try merger.mergeNextBatch(importId: id, batchRows: 4))
        XCTAssertEqual(try count(merged), 4)
        // The second batch dies just before its commit: nothing of it may remain.
        XCTAssertThrowsError(try merger.mergeNextBatch(importId: id, batchRows: 4) { conn in
            XCTAssertEqual(try conn.query("SELECT count(*) AS n FROM customers WHERE id LIKE 'K%'")[0].decode("n", as: Int.self), 8)
            throw SimulatedCrash()
        })
        XCTAssertEqual(try count(merged), 4)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM import_rows WHERE import_id = $1"), 7)
        var job = try harness.call(.GET, "/api/v1/imports/\(id)", as: ProfileHarness.hqAdmin).json
        XCTAssertEqual(job["processed"], 4)
        XCTAssertEqual(job["accepted"], 4)
        XCTAssertEqual(job["status"], "merging")

        // Another worker takes over through the job queue and finishes from the last committed batch.
        let worker = try JobWorker(configuration: JobWorkerConfiguration(schema: harness.schema, threads: 1, batchSize: 1),
                                   pool: harness.pool, logger: Logger(service: "test", sink: InMemoryLogSink()))
        let merger = self.merger
        try worker.register(queue: ImportMerger.queue) { job in try merger.run(job) }
        XCTAssertEqual(try worker.runDueJobs(), 1)
        job = try harness.call(.GET, "/api/v1/imports/\(id)", as: ProfileHarness.hqAdmin).json
        XCTAssertEqual(job["status"], "done")
        XCTAssertEqual(job["total"], 11)
        XCTAssertEqual(job["processed"], 11)
        XCTAssertEqual(job["accepted"], 11)
        XCTAssertEqual(try count(merged), 10)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM import_rows WHERE import_id = $1"), 0)
        XCTAssertEqual(try XCTUnwrap(customer("K3")).decode("name", as: String.self), "again")
        XCTAssertEqual(try harness.pool.query("SELECT status FROM jobs WHERE queue = $1", ImportMerger.queue)[0]
            .decode("status", as: String.self), "done")
    }

    func testABrokenOffUploadFailsAndStagesNothing() throws {
        var limits = ImportLimits()
        limits.stagingChunkBytes = 1   // stage after every chunk: the broken-off upload has staged rows to drop
        let receiver = ImportReceiver(store: ImportStore(database: harness.pool, limits: limits),
                                      catalog: harness.app.catalog, orgs: harness.app.orgs,
                                      jobs: try JobQueue(schema: harness.schema), limits: limits, wake: {},
                                      active: ImportReceiver.UploadSlots(capacity: 1))
        /// Sends two good rows, then the client goes away.
        final class BreaksOff: RequestBodyStream, @unchecked Sendable {
            // Thread-safety: read by the test's thread only.
            var sent = false
            func read() throws -> [UInt8]? {
                guard sent else {
                    sent = true
                    return Array("{\"id\":\"X1\"}\n{\"id\":\"X2\"}\n".utf8)
                }
                throw HTTPServerError.connectionClosed
            }
        }
        var request = Request(method: .POST, path: "/api/v1/customers:import")
        request.headers.set("content-type", "application/x-ndjson")
        request.body = .stream(BreaksOff())
        XCTAssertThrowsError(try receiver.receive(request, caller: ProfileHarness.hqAdmin, requestId: "r"))
        let row = try XCTUnwrap(try harness.pool.query("SELECT status, failure FROM imports").first)
        XCTAssertEqual(try row.decode("status", as: String.self), "failed")
        XCTAssertNotNil(try row.decode("failure", as: String?.self))
        XCTAssertNil(try customer("X1"))
        XCTAssertEqual(try harness.pool.query("SELECT count(*) AS n FROM import_rows")[0].decode("n", as: Int.self), 0)
    }

    // MARK: CSV parser

    func testCSVReaderHandlesChunkBoundariesAnywhere() throws {
        let text = "\u{FEFF}a,b\r\n\"x,\"\"y\"\"\",\"1\r\n2\"\r\n\r\nlast,\"\"\n\"open"
        let bytes = Array(text.utf8)
        var expected: [String] = []
        for size in [1, 2, 3, 5, bytes.count] {
            var reader = CSVRecordReader()
            var out: [String] = []
            let collect: (CSVRecordReader.Event) -> Void = { event in
                switch event {
                case .record(let r):
                    out.append("\(r.line):" + (0..<r.count).map { String(decoding: r.field($0), as: UTF8.self) }.joined(separator: "|"))
                case .malformed(let line, let reason): out.append("\(line):!\(reason)")
                }
            }
            var i = 0
            while i < bytes.count {
                reader.feed(Array(bytes[i..<min(i + size, bytes.count)]), collect)
                i += size
            }
            reader.finish(collect)
            if expected.isEmpty {
                expected = out
                XCTAssertEqual(out.count, 4, "\(out)")
                XCTAssertEqual(out[0], "1:a|b")
                XCTAssertEqual(out[1], "2:x,\"y\"|1\r\n2")
                XCTAssertEqual(out[2], "5:last|")
                XCTAssertTrue(out[3].hasPrefix("6:!has a quoted field that is never closed"), out[3])
            } else {
                XCTAssertEqual(out, expected, "chunk size \(size)")
            }
        }
    }

    // MARK: Throughput over a real socket

    /// Generates a CSV of `rows` customers chunk by chunk: the file never exists whole.
    final class GeneratedCSV: RequestBodyStream, @unchecked Sendable {
        // Thread-safety: read by the one transfer thread that sends the body.
        let rows: Int
        var next = 0
        var headerSent = false
        init(rows: Int) { self.rows = rows }
        func read() throws -> [UInt8]? {
            var out: [UInt8] = []
            if !headerSent {
                headerSent = true
                out += Array("id,name,phone,city,aum,riskLevel,isPayroll,birthDate\n".utf8)
            }
            guard next < rows else { return out.isEmpty ? nil : out }
            out.reserveCapacity(256 << 10)
            while next < rows && out.count < 256 << 10 {
                let i = next
                next += 1
                out += Array("G\(i),客户\(i),1380000\(String(format: "%04d", i % 10_000)),上海,\(i % 1_000_000).\(i % 100),C\(1 + i % 5),\(i % 2 == 0),1980-01-\(String(format: "%02d", 1 + i % 28))\n".utf8)
            }
            return out
        }
    }

    func test100kRowStreamedImportCompletesQuickly() throws {
        let port = TestEnvironment.freePort()
        harness = try ProfileHarness(environment: ["LATTICE_PORT": "\(port)"])
        try harness.app.start()
        defer { harness.app.stop() }
        let rows = 100_000
        var headers = ProfileHarness.headers(for: ProfileHarness.hqAdmin)
        headers.set("content-type", "text/csv")
        let request = HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(port)/api/v1/customers:import",
                                        headers: headers, timeoutMs: 120_000)
        let started = Date()
        var status = 0
        var body: [UInt8] = []
        try harness.app.service.client.stream(request, body: GeneratedCSV(rows: rows),
                                              onHead: { code, _ in status = code }, onBody: { body += $0 })
        let uploaded = Date().timeIntervalSince(started)
        XCTAssertEqual(status, 202, String(decoding: body, as: UTF8.self))
        let created = try JSONCoding.decoder().decode(JSONValue.self, from: Data(body))
        let id = try XCTUnwrap(created["id"]?.stringValue)
        XCTAssertEqual(created["total"], .number(Double(rows)))

        var job = JSONValue.null
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            job = try harness.call(.GET, "/api/v1/imports/\(id)", as: ProfileHarness.hqAdmin).json
            if job["status"] == "done" || job["status"] == "failed" { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let total = Date().timeIntervalSince(started)
        XCTAssertEqual(job["status"], "done", "\(job)")
        XCTAssertEqual(job["accepted"], .number(Double(rows)))
        XCTAssertEqual(job["rejected"], 0)
        XCTAssertEqual(try harness.pool.query("SELECT count(*) AS n FROM customers")[0].decode("n", as: Int.self), rows)
        print("IMPORT upload+stage \(rows) rows in \(String(format: "%.2f", uploaded)) s = \(Int(Double(rows) / uploaded)) rows/s; "
              + "end to end \(String(format: "%.2f", total)) s = \(Int(Double(rows) / total)) rows/s")
        XCTAssertLessThan(total, 60, "100k rows took \(total) s")
    }
}

private extension JSONValue {
    var intValue: Int? { if case .number(let d) = self { return Int(d) } else { return nil } }
}
