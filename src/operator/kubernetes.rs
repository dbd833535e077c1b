//! The Kubernetes client: its timeouts and user agent, the connection check, and the
//! CRD check at start (installing them in dev mode).

use super::*;

/// The User-Agent of the operator's Kubernetes requests (audit logs, RBAC debugging).
pub(crate) const USER_AGENT: &str = concat!("ssc-operator/", env!("CARGO_PKG_VERSION"));

/// How long any Kubernetes request but a watch may wait for its answer.
pub(crate) const KUBE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to the API server may take.
pub(crate) const KUBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Kubernetes client from `config` that identifies itself as the operator, bounds its
/// requests (connect, and answers to all but watches), and sends writes only while `fence` is
/// open.
pub fn kube_client(
    mut config: kube::Config,
    fence: WriteFence,
) -> Result<kube::Client, kube::Error> {
    config.headers.push((
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(USER_AGENT),
    ));
    config.connect_timeout = Some(KUBE_CONNECT_TIMEOUT);
    // kube's retry layer would sit below the fence and resend a write after the fence closed;
    // failed requests are retried by the reconcile loop instead, each through the fence.
    config.default_retry = false;
    let guard = KubeRequestGuard {
        fence,
        timeout: KUBE_REQUEST_TIMEOUT,
    };
    Ok(client_builder(config)?.with_layer(&guard).build())
}

/// The most a connection to the API server keeps as its read buffer. hyper's default (about
/// 400 KiB) is what every pooled connection keeps once one answer (a list page) grew it: 5 MiB
/// of the operator's memory at 10,000 resources (BENCHMARKS.md). Bodies are read in pieces
/// of up to this size, so it bounds nothing but the buffer.
pub(crate) const KUBE_READ_BUFFER_MAX: usize = 32 * 1024;

/// How long an idle pooled connection (and its buffers) is kept.
const KUBE_POOL_IDLE: Duration = Duration::from_secs(90);

/// The client's service stack, as kube's own builder boxes it.
type KubeService = tower::util::BoxService<
    axum::http::Request<kube::client::Body>,
    axum::http::Response<Box<kube::client::DynBody>>,
    tower::BoxError,
>;

/// kube's default client stack (`ClientBuilder::try_from(Config)` with this crate's features:
/// rustls, no proxy support, no gzip, no retries: see [`kube_client`]) built by hand, for what
/// kube does not expose: the hyper client's read buffer bound and its idle-pool timer. Left out:
/// kube's per-request trace layer (debug spans, and an error line for every 5xx answer, which the
/// reconcile loop reports itself with the resource it concerns) and the client's `valid_until`
/// (when an exec plugin's client certificate expires, which the operator does not read).
fn client_builder(
    config: kube::Config,
) -> Result<kube::client::ClientBuilder<KubeService>, kube::Error> {
    use hyper_util::client::legacy::connect::HttpConnector;
    use kube::client::ConfigExt;
    use tower::ServiceExt;

    if let Some(proxy_url) = &config.proxy_url {
        // As kube answers a proxy whose feature is not built in.
        let proxy = Box::new(proxy_url.clone());
        return Err(match proxy_url.scheme_str() {
            Some("socks5") => kube::Error::ProxyProtocolDisabled {
                proxy_url: proxy,
                protocol_feature: "kube/socks5",
            },
            Some("http" | "https") => kube::Error::ProxyProtocolDisabled {
                proxy_url: proxy,
                protocol_feature: "kube/http-proxy",
            },
            _ => kube::Error::ProxyProtocolUnsupported { proxy_url: proxy },
        });
    }
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // As kube does: only when none is installed (an error means one was, meanwhile).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let mut connector =
        hyper_timeout::TimeoutConnector::new(config.rustls_https_connector_with_connector(http)?);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(hyper_util::rt::TokioExecutor::new())
            .http1_max_buf_size(KUBE_READ_BUFFER_MAX)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(KUBE_POOL_IDLE)
            .build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(client)
        .map_response(|response| {
            response.map(|body| {
                Box::new(http_body_util::BodyExt::map_err(
                    body,
                    tower::BoxError::from,
                )) as Box<kube::client::DynBody>
            })
        })
        .boxed();
    Ok(kube::client::ClientBuilder::new(
        service,
        config.default_namespace,
    ))
}

/// The operator's client (fenced by `fence`) and an unfenced one for the election (which must
/// renew while the fence is closed) and the dev-mode CRD install (before any election).
pub(super) async fn connect_kubernetes(
    fence: WriteFence,
    kubeconfig: Option<&std::path::Path>,
) -> Result<(kube::Client, kube::Client), RunError> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                RunError::KubeconfigUnreadable {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }
            })?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| RunError::Kubeconfig {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| RunError::NoKubeconfig(e.to_string()))?,
    };
    let build =
        |fence| kube_client(config.clone(), fence).map_err(|e| RunError::KubeClient(e.to_string()));
    let client = build(fence)?;
    let election = build(WriteFence::always_open())?;
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(version)) => {
            info!(version = %version.git_version, "connected to Kubernetes");
            Ok((client, election))
        }
        Ok(Err(e)) => Err(RunError::Unreachable(e)),
        Err(_) => Err(RunError::NoAnswer),
    }
}

/// Checks both kinds are served (a LIST of metadata with limit 1, which the operator's RBAC allows):
/// the resources and the operator's own records. In dev mode installs the CRDs when one is
/// missing.
pub(super) async fn ensure_crd(
    client: &kube::Client,
    install: bool,
    namespace: Option<&str>,
) -> Result<(), RunError> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let served = || async {
        let api = match namespace {
            Some(ns) => kube::Api::<ServiceSpecificCredential>::namespaced(client.clone(), ns),
            None => kube::Api::<ServiceSpecificCredential>::all(client.clone()),
        };
        // Metadata only: a tenant may have written a status the types do not read.
        let limit = kube::api::ListParams::default().limit(1);
        api.list_metadata(&limit).await?;
        kube::Api::<crate::record::CredentialRecord>::all(client.clone())
            .list_metadata(&limit)
            .await
            .map(|_| ())
    };
    match served().await {
        Ok(()) => return Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 && install => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Err(RunError::CrdMissing),
        // Anything else (e.g. RBAC) shows up again, with context, in the watch errors.
        Err(e) => {
            warn!(error = %e, "could not check that the CRDs are served");
            return Ok(());
        }
    }
    let mut names = Vec::new();
    for crd in crate::api::all_crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        info!(%name, "installing the CRD (dev mode)");
        kube::Api::<CustomResourceDefinition>::all(client.clone())
            .patch(
                &name,
                &kube::api::PatchParams::apply(reconcile::FIELD_MANAGER).force(),
                &kube::api::Patch::Apply(&crd),
            )
            .await
            .map_err(RunError::CrdInstall)?;
        names.push(name);
    }
    for _ in 0..50 {
        if served().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(RunError::CrdNotServed(names.join(", ")))
}

#[cfg(test)]
mod tests;
