import Foundation

/// A Codable configuration as config.json's keys and back: one definition of the fields (the
/// type's CodingKeys) serves writing a run and continuing it.
public enum ConfigCoding {
    /// The encoded fields in CodingKeys order, an option left unset as null.
    public static func object<C: Encodable>(_ config: C) throws -> JSONObject {
        guard case .object(let o) = try JSONValueEncoder().encode(config) else {
            throw WideNetIOError("a configuration did not encode to a JSON object")
        }
        return o
    }

    /// The configuration recorded in `object` (other keys are ignored); the error names the field.
    public static func decode<C: Decodable>(_ type: C.Type, from object: JSONObject, shown: String) throws -> C {
        do { return try JSONDecoder().decode(type, from: Data(object.render().utf8)) } catch let DecodingError.keyNotFound(key, _) {
            throw WideNetIOError("\(shown): the recorded configuration lacks \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw WideNetIOError("\(shown): the recorded \(field) has the wrong type (\(context.debugDescription))")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw WideNetIOError("\(shown): the recorded \(field.isEmpty ? "configuration" : field) is not valid (\(context.debugDescription))")
        }
    }
}
