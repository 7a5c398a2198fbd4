import Contracts
import Foundation
import ServiceKit

/// Checks the rows of one import with THE customer validator (`CustomerUpdate`, the rules of
/// `PUT /api/v1/customers/{id}`: `parse` for an NDJSON object, its per-value checks for a CSV row's
/// cells) and the caller's org scope, turning each into a `StagedRow` or an `ImportRowError`.
///
/// Catalog definitions and org paths are cached for the import (a file names few distinct ones).
/// Infrastructure failures (catalog or org directory unreachable) are thrown: they end the upload,
/// they are not the row's fault.
///
/// Thread-safety: a value used by the upload's thread only.
struct ImportRowChecker {
    let caller: CallerIdentity
    let catalog: AttributeCatalog
    let orgs: OrgDirectory
    let now: Date
    private var definitions: [String: AttributeDefinition?] = [:]
    private var orgPaths: [String: Result<String, APIError>] = [:]
    private var lastOrgPath: (orgId: String, path: Result<String, APIError>)?

    /// Keys that change consents: those carry evidence and go through `PUT`, not bulk files.
    static let consentKeys: Set<String> = ["consents", "marketingOptOut", "consentSource"]

    init(caller: CallerIdentity, catalog: AttributeCatalog, orgs: OrgDirectory, now: Date = Date()) {
        self.caller = caller
        self.catalog = catalog
        self.orgs = orgs
        self.now = now
    }

    /// The catalog definition of a custom attribute code, cached (also when unknown).
    mutating func definition(_ code: String) throws -> AttributeDefinition? {
        if let cached = definitions[code] { return cached }
        let found = try catalog.definition(code)
        if definitions.count < 10_000 { definitions[code] = found }
        return found
    }

    /// Checks one row given as the keys of a customer object plus `id` (an NDJSON line).
    mutating func check(line: Int, object: [String: JSONValue]) throws -> Result<StagedRow, ImportRowError> {
        guard let idValue = object["id"] else {
            return .failure(ImportRowError(line: line, field: "id", message: "is required"))
        }
        guard case .string(let id) = idValue, CustomerStore.isCustomerId(id) else {
            return .failure(Self.invalidId(line: line))
        }
        if let key = object.keys.first(where: { Self.consentKeys.contains($0) }) {
            return .failure(ImportRowError(line: line, field: key,
                message: "is not imported: consents change with their evidence through PUT /api/v1/customers/{id}"))
        }
        let update: CustomerUpdate
        do {
            update = try CustomerUpdate.parse(object, now: now) { try definition($0) }
        } catch let fault as CustomerUpdate.FieldError {
            return .failure(Self.rowError(line: line, fault))
        }
        var row = StagedRow(line: line, customerId: id)
        for (field, value) in update.fields where field != .orgId { row.set(field, to: value) }
        row.setAttributes(update.attributes.lazy.map { ($0.key, $0.value) })
        guard case .text(let orgId)?? = update.fields[.orgId] else { return .success(row) }   // parse refuses a cleared orgId
        return try placed(row, in: orgId)
    }

    /// Checks one CSV row, its cells in header order, by the rules of `CustomerUpdate.parse` (the same
    /// first fault for the same row as its NDJSON form). An empty `orgId` cell means "not given": the
    /// customer keeps its unit (a new one gets the caller's); any other empty cell clears.
    mutating func check(line: Int, cells: [String], columns: ImportColumns) throws -> Result<StagedRow, ImportRowError> {
        let id = cells[columns.idColumn]
        guard CustomerStore.isCustomerId(id) else { return .failure(Self.invalidId(line: line)) }
        var row = StagedRow(line: line, customerId: id)
        var orgId: String?
        var attributes: [(String, NormalizedValue?)] = []
        do {
            for index in columns.checkOrder {
                let cell = cells[index]
                switch columns.kinds[index] {
                case .id:
                    continue
                case .field(.orgId):
                    guard !cell.isEmpty, case .text(let given)? = try CustomerUpdate.value(.string(cell), of: .orgId) else { continue }
                    orgId = given
                case .field(let field):
                    row.set(field, to: try CustomerUpdate.value(.string(cell), of: field))
                case .attribute(let definition):
                    attributes.append((definition.code, try CustomerUpdate.value(.string(cell), of: definition, path: definition.code)))
                }
            }
        } catch let fault as CustomerUpdate.FieldError {
            return .failure(Self.rowError(line: line, fault))
        }
        row.setAttributes(attributes)
        guard let orgId else { return .success(row) }
        return try placed(row, in: orgId)
    }

    /// `row` owned by `orgId`, when that unit is in the caller's subtree.
    private mutating func placed(_ row: StagedRow, in orgId: String) throws -> Result<StagedRow, ImportRowError> {
        switch try orgPath(orgId) {
        case .success(let path):
            var row = row
            row.present |= StagedRow.bit(.orgId)
            row.orgId = orgId
            row.orgPath = path
            return .success(row)
        case .failure(let error):
            return .failure(ImportRowError(line: row.line, field: "orgId", message: error.message))
        }
    }

    private static func invalidId(line: Int) -> ImportRowError {
        ImportRowError(line: line, field: "id", message: "must be 1 to 64 letters, digits, _ . : - starting with a letter or digit")
    }

    private static func rowError(line: Int, _ fault: CustomerUpdate.FieldError) -> ImportRowError {
        ImportRowError(line: line, field: fault.field, message: "\(fault.field) \(fault.message)")
    }

    /// The path of `orgId` when it is in the caller's subtree; a 422 for the row otherwise. An
    /// unreachable directory (503) is thrown.
    private mutating func orgPath(_ orgId: String) throws -> Result<String, APIError> {
        // Files are often sorted by branch: the last unit answers most rows without hashing.
        if let last = lastOrgPath, last.orgId == orgId { return last.path }
        let result: Result<String, APIError>
        if let cached = orgPaths[orgId] {
            result = cached
        } else {
            do {
                result = .success(try orgs.path(of: orgId, for: caller))
            } catch let error as APIError where error.status == 422 {
                result = .failure(error)
            }
            if orgPaths.count < 10_000 { orgPaths[orgId] = result }
        }
        lastOrgPath = (orgId, result)
        return result
    }
}

/// The columns of a CSV import, resolved from its header once (`ImportUpload.readHeader`, which
/// refuses any other key): what each one is, and the order in which a row's cells are checked (key
/// order, as `CustomerUpdate.parse` checks an object's keys).
struct ImportColumns {
    enum Kind {
        case id
        case field(CustomerField)
        case attribute(AttributeDefinition)
    }

    let names: [String]
    let kinds: [Kind]
    let checkOrder: [Int]
    let idColumn: Int

    init(names: [String], kinds: [Kind]) {
        self.names = names
        self.kinds = kinds
        checkOrder = names.indices.sorted { names[$0] < names[$1] }
        idColumn = names.firstIndex(of: "id") ?? 0
    }
}
