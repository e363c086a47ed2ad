//! One gRPC health check: `grpc.health.v1.Health/Check` with the monitor's
//! `service`, over plaintext HTTP/2 or TLS (`tls: true`, trusting `tls_ca`
//! or the system's CAs, with an optional client certificate). Healthy only
//! on `SERVING`; `NOT_SERVING`, `UNKNOWN`, a gRPC error status (say
//! `NotFound` for a service the server does not know) or a transport error
//! is a failure, named in the check's reason.
//!
//! Each target keeps one channel (HTTP/2 connection, re-established by
//! tonic when it breaks), so a check is one request on a live connection.
//! I/O only, like the rest of the prober; the caller bounds the time.

use std::net::SocketAddr;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::prober::{CheckError, CheckResult, Passed, named_cause};
use crate::config::Monitor;

/// The client generated from `proto/health.proto` by build.rs.
#[allow(unreachable_pub, clippy::all, clippy::pedantic, rust_2018_idioms)]
mod pb {
    tonic::include_proto!("grpc.health.v1");
}

use pb::health_check_response::ServingStatus;
use pb::health_client::HealthClient;

/// A target's channel, kept between checks.
#[derive(Debug, Default)]
pub(super) struct GrpcChannel(Option<(SocketAddr, Channel)>);

impl GrpcChannel {
    fn get(
        &mut self,
        m: &Monitor,
        addr: SocketAddr,
        name: Option<&str>,
    ) -> Result<Channel, CheckError> {
        if let Some((a, channel)) = &self.0
            && *a == addr
        {
            return Ok(channel.clone());
        }
        let channel = channel(m, addr, name)?;
        self.0 = Some((addr, channel.clone()));
        Ok(channel)
    }
}

fn channel(m: &Monitor, addr: SocketAddr, name: Option<&str>) -> Result<Channel, CheckError> {
    let scheme = if m.tls { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .map_err(|e| CheckError::Other(format!("gRPC endpoint: {e}")))?
        .connect_timeout(m.timeout);
    if m.tls {
        // The server's certificate must name the target: its host name, or
        // else the address connected to.
        let domain = name.map_or_else(|| addr.ip().to_string(), str::to_owned);
        let mut tls = ClientTlsConfig::new().domain_name(domain);
        tls = match &m.tls_files.ca {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(ca)),
            None => tls.with_native_roots(),
        };
        if let Some((cert, key)) = &m.tls_files.client {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| CheckError::Tls(e.to_string()))?;
    }
    Ok(endpoint.connect_lazy())
}

/// Ask the target whether `m.service` is serving.
pub(super) async fn check(
    m: &Monitor,
    addr: SocketAddr,
    name: Option<&str>,
    own: &mut GrpcChannel,
) -> CheckResult {
    let mut client = HealthClient::new(own.get(m, addr, name)?);
    let request = pb::HealthCheckRequest {
        service: m.service.clone(),
    };
    match client.check(request).await {
        Ok(response) => match ServingStatus::try_from(response.into_inner().status) {
            Ok(ServingStatus::Serving) => Ok(Passed::Serving),
            Ok(other) => Err(CheckError::Grpc(other.as_str_name().to_owned())),
            Err(_) => Err(CheckError::Grpc("an unknown serving status".to_owned())),
        },
        Err(status) => Err(status_error(&status)),
    }
}

/// A refused connection or a TLS failure by its cause; otherwise the gRPC
/// status code and message.
fn status_error(status: &tonic::Status) -> CheckError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(status);
    while let Some(err) = source {
        if let Some(named) = named_cause(err) {
            return named;
        }
        source = err.source();
    }
    let message = status.message();
    if message.is_empty() {
        CheckError::Grpc(format!("status {:?}", status.code()))
    } else {
        CheckError::Grpc(format!("status {:?}: {message}", status.code()))
    }
}
