use std::sync::Mutex;

use k8s_openapi::api::core::v1::ConfigMap;

use super::*;

/// What the API server below saw of each request: its Authorization and User-Agent headers.
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// An API server that answers one list of `items` ConfigMaps, each `size` bytes of data, and
/// notes the headers it was sent.
async fn api_server(items: usize, size: usize) -> (String, Seen) {
    use axum::http::{HeaderMap, header};
    let seen = Seen::default();
    let noted = seen.clone();
    let list = move |headers: HeaderMap| {
        let value = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        noted
            .lock()
            .unwrap()
            .push((value(header::AUTHORIZATION), value(header::USER_AGENT)));
        let items: Vec<_> = (0..items)
            .map(|i| {
                serde_json::json!({
                    "metadata": {"name": format!("cm-{i}"), "namespace": "default"},
                    "data": {"blob": format!("{i}:{}", "x".repeat(size))},
                })
            })
            .collect();
        async move {
            axum::Json(serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMapList",
                "metadata": {"resourceVersion": "7"}, "items": items,
            }))
        }
    };
    let app = axum::Router::new().route(
        "/api/v1/namespaces/default/configmaps",
        axum::routing::get(list),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn the_client_sends_its_token_and_user_agent_and_reads_answers_larger_than_its_buffer() {
    // 300 items of 2 KiB: an answer twenty times the read buffer's bound.
    let (url, seen) = api_server(300, 2048).await;
    let mut config = kube::Config::new(url.parse().unwrap());
    config.auth_info.token = Some("t0ken".to_string().into());
    let client = kube_client(config, WriteFence::always_open()).unwrap();

    let list = kube::Api::<ConfigMap>::namespaced(client, "default")
        .list(&Default::default())
        .await
        .unwrap();

    assert_eq!(list.items.len(), 300);
    for (i, item) in list.items.iter().enumerate() {
        let blob = &item.data.as_ref().unwrap()["blob"];
        assert_eq!(blob, &format!("{i}:{}", "x".repeat(2048)));
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_deref(), Some("Bearer t0ken"));
    assert_eq!(seen[0].1.as_deref(), Some(USER_AGENT));
    const { assert!(300 * 2048 > 10 * KUBE_READ_BUFFER_MAX) };
}

#[test]
fn a_proxy_is_refused_as_kube_refuses_a_proxy_it_was_built_without() {
    let mut config = kube::Config::new("https://kubernetes.default.svc".parse().unwrap());
    config.proxy_url = Some("http://proxy.example:3128".parse().unwrap());

    let error = kube_client(config, WriteFence::always_open())
        .err()
        .unwrap()
        .to_string();

    assert!(error.contains("proxy.example"), "{error}");
    assert!(error.contains("kube/http-proxy"), "{error}");
}
