//! One definition of the lifecycle's fields: the WIT `lifecycle.span-fields` record (with the
//! `types` records it uses) is the source; the JSON event form and the OpenAPI schemas must
//! correspond to it one to one.
//!
//! - The JSON Schemas of `fields` (`Fields` and one per record, docs/fields.schema.json, which
//!   docs/openapi.json refers to) are generated here from the WIT; the file must hold exactly
//!   them (`AGENTRACE_BLESS=1` writes it).
//! - A value with every WIT field set, made from those schemas, is read by the library's JSON
//!   form (`SpanFields`, which refuses unknown keys) and written back with every key kept.
//! - Every event of the AG2 example conforms to the OpenAPI `Event` schema.
//! - docs/events.md's *Fields* table names every field.
//! - The operations are the WIT enum's cases, in the library and in the OpenAPI `Event`.
//!
//! (The Rust records and the WIT ones are destructured whole by the library's conversions, so a
//! field on one side only does not compile.)

use serde_json::{Map, Value as Json, json};
use wit_parser::{Resolve, Type, TypeDefKind, TypeId};

use crate::common::repo;
use crate::sidecar::conforms;

/// The WIT name of a record as an OpenAPI schema name: `agent-info` → `AgentInfo`; the lifecycle
/// record `span-fields` is `Fields`, the name docs/events.md uses.
fn schema_name(wit_name: &str) -> String {
    if wit_name == "span-fields" {
        return "Fields".into();
    }
    wit_name
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A reference to a schema of docs/fields.schema.json, from within it.
fn reference(name: &str) -> Json {
    json!({"$ref": format!("#/$defs/{name}")})
}

/// The OpenAPI schemas of the JSON form, generated from the WIT.
struct Generator<'a> {
    resolve: &'a Resolve,
    schemas: Map<String, Json>,
}

impl Generator<'_> {
    /// The schema of a WIT type in the JSON form; records are added to `schemas` and referred
    /// to. `field` is the JSON key the type is for, for the one place the form differs by key.
    fn schema(&mut self, ty: &Type, owner: &str, field: &str) -> Json {
        match ty {
            Type::Bool => json!({"type": "boolean"}),
            Type::String => json!({"type": "string"}),
            Type::U16 => json!({"type": "integer", "minimum": 0, "maximum": 65535}),
            Type::S64 => json!({"type": "integer"}),
            Type::F64 => json!({"type": "number"}),
            Type::Id(id) => self.named(*id, owner, field),
            other => panic!("{owner}.{field}: no JSON form for the WIT type {other:?}"),
        }
    }

    fn named(&mut self, id: TypeId, owner: &str, field: &str) -> Json {
        let def = &self.resolve.types[id];
        match (def.name.as_deref(), &def.kind) {
            (Some("json"), _) => json!({"description": "Any JSON value."}),
            (Some("trace-id"), _) => json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
            (Some("span-id"), _) => json!({"type": "string", "pattern": "^[0-9a-f]{16}$"}),
            (Some("timestamp"), _) => json!({"type": "integer", "minimum": 0}),
            (Some("message-part"), _) => reference("Part"),
            (Some(name), TypeDefKind::Record(record)) => {
                let schema_name = schema_name(name);
                if !self.schemas.contains_key(&schema_name) {
                    // Reserve the name first: records may refer to each other.
                    self.schemas.insert(schema_name.clone(), Json::Null);
                    let mut properties = Map::new();
                    for member in &record.fields {
                        let key = member.name.replace('-', "_");
                        let schema = self.schema(&member.ty, name, &key);
                        properties.insert(key, schema);
                    }
                    let schema = json!({
                        "description": format!(
                            "The WIT record `{name}` (wit/), field for field; its documentation \
                             there says what each field means."
                        ),
                        "type": "object",
                        "additionalProperties": false,
                        "properties": properties,
                    });
                    self.schemas.insert(schema_name.clone(), schema);
                }
                reference(&schema_name)
            }
            (_, TypeDefKind::Option(inner)) => self.schema(inner, owner, field),
            (_, TypeDefKind::List(inner)) => {
                let attributes = matches!(inner, Type::Id(item)
                    if self.resolve.types[*item].name.as_deref() == Some("attribute"));
                if attributes {
                    // The JSON form keeps attributes as an object by key.
                    return json!({
                        "type": "object",
                        "additionalProperties": {"description": "A string, number, boolean or array of one of them; other values are kept as JSON text."},
                    });
                }
                let items = self.schema(inner, owner, field);
                if owner == "message" && field == "parts" {
                    // A message's parts may be one plain string.
                    return json!({"anyOf": [{"type": "string"}, {"type": "array", "items": items}]});
                }
                json!({"type": "array", "items": items})
            }
            (_, TypeDefKind::Type(inner)) => self.schema(inner, owner, field),
            (name, kind) => panic!(
                "{owner}.{field}: no JSON form for the WIT {} {name:?}",
                kind.as_str()
            ),
        }
    }
}

/// wit/ parsed, with its deps.
fn wit() -> Resolve {
    let mut resolve = Resolve::new();
    resolve
        .push_dir(repo().join("wit"))
        .expect("wit/ parses with its deps");
    resolve
}

/// The interface `name` of the `agentrace:plugin` package.
fn interface<'a>(resolve: &'a Resolve, name: &str) -> &'a wit_parser::Interface {
    resolve
        .interfaces
        .iter()
        .find(|(_, interface)| {
            interface.name.as_deref() == Some(name)
                && interface.package.is_some_and(|package| {
                    resolve.packages[package]
                        .name
                        .to_string()
                        .starts_with("agentrace:plugin@")
                })
        })
        .map(|(_, interface)| interface)
        .unwrap_or_else(|| panic!("wit/ has agentrace:plugin/{name}"))
}

/// The WIT `agentrace:plugin` package's `lifecycle.span-fields`, and the schemas generated from
/// it, `Part` (the GenAI parts format, which the JSON form takes as is) included.
fn generated_schemas() -> Map<String, Json> {
    let resolve = wit();
    let lifecycle = interface(&resolve, "lifecycle");
    let fields = lifecycle.types["span-fields"];
    let mut generator = Generator {
        resolve: &resolve,
        schemas: Map::new(),
    };
    generator.named(fields, "lifecycle", "fields");
    generator.schemas.insert(
        "Part".into(),
        json!({
            "description": "A message part in the GenAI parts format (`{\"type\": \"text\", \"content\": ...}`, `tool_call`, `tool_call_response`, `reasoning`, `blob`, `uri`, `file`; any other object with a `type` passes through), or a plain string for one text part: the WIT variant `message-part`.",
            "anyOf": [{"type": "string"}, {"type": "object", "required": ["type"]}],
        }),
    );
    generator.schemas
}

/// A value for `schema` with every property set, following references into `schemas`.
fn full_value(schema: &Json, schemas: &Map<String, Json>) -> Json {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/$defs/");
        if name == "Part" {
            return json!({"type": "text", "content": "hello"});
        }
        return full_value(&schemas[name], schemas);
    }
    if let Some(first) = schema["anyOf"]
        .as_array()
        .and_then(|options| options.last())
    {
        return full_value(first, schemas);
    }
    match schema["type"].as_str() {
        Some("object") => match schema["properties"].as_object() {
            Some(properties) => Json::Object(
                properties
                    .iter()
                    .map(|(key, schema)| (key.clone(), full_value(schema, schemas)))
                    .collect(),
            ),
            None => json!({"key": "value"}),
        },
        Some("array") => json!([full_value(&schema["items"], schemas)]),
        Some("string") => match schema["pattern"].as_str() {
            Some(pattern) if pattern.contains("{32}") => json!("4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(_) => json!("00f067aa0ba902b7"),
            None => json!("text"),
        },
        Some("integer") => json!(7),
        Some("number") => json!(0.5),
        Some("boolean") => json!(true),
        _ => json!({"any": ["json"]}),
    }
}

/// Every key path of an object, nested objects and arrays of objects included.
fn key_paths(value: &Json, prefix: &str, paths: &mut Vec<String>) {
    match value {
        Json::Object(object) => {
            for (key, value) in object {
                let path = format!("{prefix}/{key}");
                key_paths(value, &path, paths);
                paths.push(path);
            }
        }
        Json::Array(items) => items.iter().for_each(|item| key_paths(item, prefix, paths)),
        _ => {}
    }
}

#[test]
fn the_fields_schemas_are_the_wit_lifecycle_records() {
    let generated = generated_schemas();
    let path = repo().join("docs/fields.schema.json");
    if std::env::var_os("AGENTRACE_BLESS").is_some() {
        let document = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "agentrace lifecycle fields",
            "description": "The `fields` of a lifecycle event (docs/events.md, docs/openapi.json): generated from the WIT record `lifecycle.span-fields` (wit/lifecycle.wit) and the records it uses by cli/tests/all/lifecycle_wit.rs with AGENTRACE_BLESS=1. Do not edit; change the WIT.",
            "$defs": generated,
        });
        let text = serde_json::to_string_pretty(&document).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let document: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .expect("docs/fields.schema.json is JSON");
    for (name, schema) in &generated {
        assert_eq!(
            &document["$defs"][name], schema,
            "docs/fields.schema.json's `{name}` is not what the WIT says (run this test with \
             AGENTRACE_BLESS=1 to regenerate the file, and review the diff)"
        );
    }
    let written = document["$defs"].as_object().unwrap();
    let stale: Vec<&String> = written
        .keys()
        .filter(|name| !generated.contains_key(*name))
        .collect();
    assert!(stale.is_empty(), "schemas the WIT no longer has: {stale:?}");
    let openapi: Json =
        serde_json::from_str(&std::fs::read_to_string(repo().join("docs/openapi.json")).unwrap())
            .unwrap();
    assert_eq!(
        openapi["components"]["schemas"]["Event"]["properties"]["fields"],
        json!({"$ref": "fields.schema.json#/$defs/Fields"}),
        "the events' `fields` in docs/openapi.json is the Fields schema"
    );
}

#[test]
fn every_wit_field_is_a_key_of_the_json_form_and_back() {
    let schemas = generated_schemas();
    let full = full_value(&reference("Fields"), &schemas);
    let fields: agentrace::SpanFields = serde_json::from_value(full.clone())
        .unwrap_or_else(|e| panic!("the JSON form refuses a WIT field: {e}\n{full:#}"));
    let back = serde_json::to_value(&fields).unwrap();
    let (mut sent, mut kept) = (Vec::new(), Vec::new());
    key_paths(&full, "", &mut sent);
    key_paths(&back, "", &mut kept);
    sent.sort();
    sent.dedup();
    kept.sort();
    kept.dedup();
    // A message part is the GenAI format's object in both; its keys are not WIT fields.
    let missing: Vec<&String> = sent.iter().filter(|path| !kept.contains(path)).collect();
    assert!(missing.is_empty(), "lost by the JSON form: {missing:?}");
    let extra: Vec<&String> = kept.iter().filter(|path| !sent.contains(path)).collect();
    assert!(extra.is_empty(), "keys the WIT lacks: {extra:?}");
}

#[test]
fn the_example_events_conform_to_the_typed_event_schema() {
    let example = std::fs::read_to_string(repo().join("examples/ag2-group-chat.jsonl")).unwrap();
    for line in example.lines().filter(|line| !line.trim().is_empty()) {
        conforms(&serde_json::from_str(line).unwrap(), "Event");
    }
    // And a field the WIT does not have is refused by the schema as by the library.
    let typo = json!({"type": "update", "span_id": "00f067aa0ba902b7",
                      "fields": {"usage": {"input_token": 3}}});
    assert!(
        !crate::sidecar::is_valid(&typo, "Event"),
        "the schema takes `input_token`"
    );
    assert!(agentrace::events::decode_line(&typo.to_string()).is_err());
}

#[test]
fn the_events_document_names_every_field() {
    let events = std::fs::read_to_string(repo().join("docs/events.md")).unwrap();
    let schemas = generated_schemas();
    for key in schemas["Fields"]["properties"].as_object().unwrap().keys() {
        let row = events
            .lines()
            .any(|line| line.starts_with("| `") && line.contains(&format!("`{key}`")));
        assert!(row, "docs/events.md's Fields table lacks `{key}`");
    }
}

#[test]
fn the_operations_are_the_wit_enum_in_the_library_and_the_openapi_document() {
    let resolve = wit();
    let operation = interface(&resolve, "types").types["operation"];
    let TypeDefKind::Enum(cases) = &resolve.types[operation].kind else {
        panic!("types.operation is an enum");
    };
    let wit_names: Vec<String> = cases
        .cases
        .iter()
        .map(|case| case.name.replace('-', "_"))
        .collect();
    let library: Vec<&str> = agentrace::Operation::ALL
        .iter()
        .map(|op| op.as_str())
        .collect();
    assert_eq!(wit_names, library);
    let openapi: Json =
        serde_json::from_str(&std::fs::read_to_string(repo().join("docs/openapi.json")).unwrap())
            .unwrap();
    assert_eq!(
        openapi["components"]["schemas"]["Event"]["properties"]["operation"]["enum"],
        json!(wit_names)
    );
}
