//! Every request of a generated client goes through its [`Transport`](crate::Transport).

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};

macro_rules! transport_hooks {
    ($client:ty) => {
        impl ClientHooks<crate::Transport> for $client {
            async fn exec(
                &self,
                request: reqwest::Request,
                info: &OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                self.inner()
                    .execute(self.client(), request, info.operation_id)
                    .await
            }
        }
    };
}

transport_hooks!(crate::control::Client);
transport_hooks!(crate::volume_content::Client);
