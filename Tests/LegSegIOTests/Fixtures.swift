import Foundation
import LegSegIO

/// Locates the committed fixtures (made by Fixtures/make_fixtures.py with nibabel).
enum Fixtures {
    static var root: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }
    static var valid: URL { root.appendingPathComponent("valid") }
    static var broken: URL { root.appendingPathComponent("broken") }

    /// Names (without extension) of the valid fixtures, one per `.json` record.
    static var validNames: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.valid.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// What nibabel read from a fixture.
    struct Record: Decodable {
        struct Probe: Decodable { let index: [Int]; let value: Double }
        let file: String
        let nifti_version: Int
        let byte_order: String
        let datatype: String
        let shape: [Int]
        let volumes: Int
        let affine: [[Double]]
        let qform_code: Int
        let sform_code: Int
        let orientation: String
        let zooms: [Double]
        let sum: Double
        let non_finite: Int
        let probes: [Probe]
        let second_volume_sum: Double?
    }

    static func record(_ name: String) throws -> Record {
        try JSONDecoder().decode(Record.self, from: Data(contentsOf: valid.appendingPathComponent(name + ".json")))
    }

    /// The broken files and the error kind each must give.
    static func brokenCases() throws -> [(file: String, kind: String)] {
        let data = try Data(contentsOf: broken.appendingPathComponent("manifest.json"))
        let map = try JSONDecoder().decode([String: String].self, from: data)
        return map.keys.sorted().map { ($0, map[$0]!) }
    }
}
