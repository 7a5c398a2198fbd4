import Contracts
import Foundation
import ServiceKit

/// Checks the rows of one import with THE customer validator (`CustomerUpdate.parse`, the rules of
/// `PUT /api/v1/customers/{id}`) and the caller's org scope, turning each into a `StagedRow` or an
/// `ImportRowError`.
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

    /// Checks one row given as the keys of a customer object plus `id`.
    mutating func check(line: Int, object: [String: JSONValue]) throws -> Result<StagedRow, ImportRowError> {
        guard let idValue = object["id"] else {
            return .failure(ImportRowError(line: line, field: "id", message: "is required"))
        }
        guard case .string(let id) = idValue, CustomerStore.isCustomerId(id) else {
            return .failure(ImportRowError(line: line, field: "id",
                message: "must be 1 to 64 letters, digits, _ . : - starting with a letter or digit"))
        }
        if let key = object.keys.first(where: { Self.consentKeys.contains($0) }) {
            return .failure(ImportRowError(line: line, field: key,
                message: "is not imported: consents change with their evidence through PUT /api/v1/customers/{id}"))
        }
        let update: CustomerUpdate
        do {
            update = try CustomerUpdate.parse(object, now: now) { try definition($0) }
        } catch let fault as CustomerUpdate.FieldError {
            return .failure(ImportRowError(line: line, field: fault.field, message: "\(fault.field) \(fault.message)"))
        }

        var row = StagedRow(line: line, customerId: id)
        for (field, value) in update.fields {
            row.present |= StagedRow.bit(field)
            if field == .orgId {
                guard case .text(let orgId)? = value else { continue }   // parse refuses a cleared orgId
                switch try orgPath(orgId) {
                case .success(let path):
                    row.orgId = orgId
                    row.orgPath = path
                case .failure(let error):
                    return .failure(ImportRowError(line: line, field: "orgId", message: error.message))
                }
            } else {
                row.values[CustomerField.index(of: field)] = value?.sqlText
            }
        }
        if !update.attributes.isEmpty {
            var json = "{"
            var first = true
            for (code, value) in update.attributes {
                if !first { json.append(",") }
                first = false
                ImportJSON.appendQuoted(code, to: &json)
                json.append(":")
                ImportJSON.append(value, to: &json)
            }
            json.append("}")
            row.attributesJSON = json
        }
        return .success(row)
    }

    /// The path of `orgId` when it is in the caller's subtree; a 422 for the row otherwise. An
    /// unreachable directory (503) is thrown.
    private mutating func orgPath(_ orgId: String) throws -> Result<String, APIError> {
        if let cached = orgPaths[orgId] { return cached }
        let result: Result<String, APIError>
        do {
            result = .success(try orgs.path(of: orgId, for: caller))
        } catch let error as APIError where error.status == 422 {
            result = .failure(error)
        }
        if orgPaths.count < 10_000 { orgPaths[orgId] = result }
        return result
    }
}
