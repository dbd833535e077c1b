//! Discovery documents (`/api`, `/apis`, `/apis/G`, `/apis/G/V`, `/api/v1`) and `/version`.

use serde_json::{Value, json};

use super::gotypes::{self, Ty};
use super::resources::{KindImpl, ResourceDef};
use super::server::Shared;

fn verbs(def: &ResourceDef) -> Vec<&'static str> {
    match def.imp {
        KindImpl::Custom(_) => vec![
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "create",
            "update",
            "watch",
        ],
        KindImpl::Namespace => vec![
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        _ => vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
    }
}

fn resource_entries(def: &ResourceDef) -> Vec<Value> {
    let mut main = json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": verbs(def),
    });
    if !def.short_names.is_empty() {
        main["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        main["categories"] = json!(def.categories);
    }
    main["storageVersionHash"] = json!(def.storage_version_hash());
    let mut out = vec![main];
    if matches!(def.imp, KindImpl::Namespace) {
        out.push(json!({"name": "namespaces/finalize", "singularName": "", "namespaced": false, "kind": "Namespace", "verbs": ["update"]}));
    }
    if def.status_subresource {
        out.push(json!({
            "name": format!("{}/status", def.plural),
            "singularName": "",
            "namespaced": def.namespaced,
            "kind": def.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    out
}

/// `APIResourceList` of one group/version, `None` if not served.
pub(crate) fn resource_list(sh: &Shared, group: &str, version: &str) -> Option<String> {
    let defs: Vec<_> = sh
        .resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let resources: Vec<Value> = defs.iter().flat_map(|d| resource_entries(d)).collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let v = json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources});
    Some(gotypes::encode(
        &v,
        &Ty::Struct(&gotypes::API_RESOURCE_LIST),
    ))
}

fn group_value(sh: &Shared, group: &str) -> Option<Value> {
    let versions = sh.group_versions().remove(group)?;
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    Some(json!({"name": group, "versions": vs, "preferredVersion": preferred}))
}

pub(crate) fn group(sh: &Shared, group: &str) -> Option<String> {
    if group.is_empty() {
        return None;
    }
    let mut g = group_value(sh, group)?;
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(gotypes::encode(&g, &Ty::Struct(&gotypes::API_GROUP)))
}

pub(crate) fn groups(sh: &Shared) -> String {
    let groups: Vec<Value> = sh
        .group_versions()
        .keys()
        .filter(|g| !g.is_empty())
        .filter_map(|g| group_value(sh, g))
        .collect();
    let v = json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups});
    gotypes::encode(&v, &Ty::Struct(&gotypes::API_GROUP_LIST))
}

pub(crate) fn api_versions(server_address: &str) -> String {
    let v = json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    });
    gotypes::encode(&v, &Ty::Struct(&gotypes::API_VERSIONS))
}

pub(crate) fn version() -> String {
    let v = json!({
        "major": "1",
        "minor": "28",
        "gitVersion": "v1.28.7",
        "gitCommit": "unknown-chengsir22-mirror-9258ab62",
        "gitTreeState": "clean",
        "buildDate": "2026-11-22T13:23:23Z",
        "goVersion": "go1.21.13",
        "compiler": "gc",
        "platform": "linux/amd64",
    });
    gotypes::encode(&v, &Ty::Struct(&gotypes::VERSION_INFO))
}
