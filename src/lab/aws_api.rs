//! Step 7 of `Lab::start`: the AWS API on 127.0.0.1:`[lab] api-port`, answering from this
//! lab's live handles, with the lab's own credentials (`tierlab env`, [`Lab::aws_credentials`]).

use std::net::SocketAddr;
use std::sync::Arc;

use super::Lab;
use super::status::AwsStatus;
use crate::api::ApiContext;
use crate::api::credentials::AwsCredentials;
use crate::api::server::{self, ApiServerError, Auth};
use crate::config::ApiAuth;
use crate::error::Error;

/// The running endpoint.
pub(super) struct AwsApi {
    address: SocketAddr,
    credentials: AwsCredentials,
}

impl Lab {
    /// Binds the port, then serves from a view of the lab that already names the endpoint (so
    /// `status` served through the API shows it too).
    pub(super) async fn start_aws_api(&mut self) -> Result<(), Error> {
        let settings = &self.config.lab;
        let credentials = AwsCredentials::load_or_create(&self.state, &settings.name)?;
        let listener = server::bind(settings.api_port).await?;
        let address = listener
            .local_addr()
            .map_err(|source| ApiServerError::Bind {
                port: settings.api_port,
                source,
            })?;
        self.aws_api = Some(AwsApi {
            address,
            credentials: credentials.clone(),
        });
        let auth = match settings.api_auth {
            ApiAuth::SigV4 => Auth::SigV4 {
                credentials,
                region: settings.region.clone(),
            },
            ApiAuth::None => Auth::None,
        };
        let context = Arc::new(ApiContext::new(self.view()));
        let (tracker, cancel) = self.tasks.group("AWS API endpoint");
        server::serve(listener, context, auth, &tracker, cancel)?;
        tracing::info!(
            "AWS API on http://{address} (region {}; `eval \"$(tierlab env)\"` sets up the AWS CLI)",
            settings.region
        );
        Ok(())
    }

    /// The AWS API's endpoint URL (`http://127.0.0.1:PORT`), for `--endpoint-url` or
    /// `AWS_ENDPOINT_URL`.
    pub fn aws_endpoint(&self) -> String {
        format!("http://{}", self.api().address)
    }

    /// The lab's access key pair, which the AWS API verifies signatures against.
    pub fn aws_credentials(&self) -> AwsCredentials {
        self.api().credentials.clone()
    }

    /// What `status` says of the endpoint.
    pub(super) fn aws_status(&self) -> Option<AwsStatus> {
        self.aws_api.as_ref().map(|api| AwsStatus {
            endpoint_url: format!("http://{}", api.address),
            region: self.config.lab.region.clone(),
        })
    }

    fn api(&self) -> &AwsApi {
        self.aws_api
            .as_ref()
            .expect("the AWS API runs once Lab::start has returned")
    }
}
