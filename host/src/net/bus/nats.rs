//! The NATS backend of the bus (`sandnet up --bus nats://HOST:4222`): bus topics as NATS subjects under a prefix, one async-nats connection per host.
//!
//! A topic `telemetry.cpu` is the NATS subject `<prefix>.telemetry.cpu`; a
//! request's inbox `_INBOX.<hex>` is `<prefix>._INBOX.<hex>`, so the mapping
//! is one rule both ways. Policy stays with the hosts: the publishing host
//! checks before handing a message to NATS, and each receiving host pushes a
//! message into a subscription's bounded queue only after that guest's
//! delivery [`Filter`] admits its topic. A message whose subject does not
//! map back to a valid topic under the prefix is dropped (and logged).

use std::collections::hash_map::RandomState;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_nats::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use futures::StreamExt;
use sandnet_policy::Subject;

use super::broker::{Filter, INBOX_PREFIX, Message, PublishError, Queue, QueueOptions, Subscriber};

/// How long a `back-pressure` subscription's feeder waits for room before
/// looking again (it waits as long as the subscription lives; meanwhile
/// async-nats buffers and, past its own bound, drops as a slow consumer).
const FEEDER_RECHECK: Duration = Duration::from_secs(30);

/// The environment variables that carry NATS secrets (never command-line
/// arguments, which other users can read in the process list).
pub const ENV_USER: &str = "SANDNET_BUS_USER";
/// See [`ENV_USER`].
pub const ENV_PASSWORD: &str = "SANDNET_BUS_PASSWORD";
/// See [`ENV_USER`].
pub const ENV_TOKEN: &str = "SANDNET_BUS_TOKEN";

/// How to reach the NATS server (from `sandnet up`'s `--bus*` options).
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    /// `nats://HOST:PORT` or `tls://HOST:PORT` (no user info).
    pub url: String,
    /// The subject prefix, without the trailing dot (`sandnet`).
    pub prefix: String,
    /// A NATS credentials file (JWT + NKey seed).
    pub creds: Option<PathBuf>,
    /// A PEM CA bundle to verify the server's TLS certificate (implies TLS).
    pub tls_ca: Option<PathBuf>,
    /// User and password.
    pub user_password: Option<(String, String)>,
    /// An authentication token.
    pub token: Option<String>,
}

impl NatsOptions {
    /// Checks the URL and prefix: user info in the URL is refused (secrets
    /// belong in the environment), the prefix must be a concrete bus topic.
    pub fn validate(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.url).map_err(|e| {
            format!(
                "--bus {:?} is not a URL ({e}); use nats://HOST:4222",
                self.url
            )
        })?;
        if !matches!(url.scheme(), "nats" | "tls") {
            return Err(format!(
                "--bus {:?}: unknown scheme {:?}; use nats://HOST:4222 (or tls://HOST:4222)",
                self.url,
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "--bus {:?} names no host; use nats://HOST:4222",
                self.url
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "--bus {:?} carries credentials; put them in {ENV_USER}/{ENV_PASSWORD} or {ENV_TOKEN}, or use --bus-creds FILE",
                url.host_str().unwrap_or_default()
            ));
        }
        match Subject::topic(&self.prefix) {
            Ok(_) => Ok(()),
            Err(e) => Err(format!(
                "--bus-prefix {:?} is not a NATS subject without wildcards ({e}); e.g. \"sandnet\" or \"site.a\"",
                self.prefix
            )),
        }
    }

    /// Reads user/password or token from the environment.
    pub fn with_env_secrets(mut self) -> Self {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        if let (Some(user), Some(password)) = (var(ENV_USER), var(ENV_PASSWORD)) {
            self.user_password = Some((user, password));
        }
        self.token = var(ENV_TOKEN);
        self
    }
}

/// A live NATS connection and the prefix its topics live under.
pub struct NatsLink {
    client: async_nats::Client,
    /// `prefix.` (with the dot).
    prefix: String,
    pub(super) next_id: AtomicU64,
    pub(super) inbox_keys: RandomState,
}

impl std::fmt::Debug for NatsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsLink")
            .field("prefix", &self.prefix)
            .field("state", &self.client.connection_state())
            .finish()
    }
}

impl NatsLink {
    /// Connects (once; async-nats reconnects by itself afterwards and
    /// restores the subscriptions). Fails naming the server and the cause.
    pub async fn connect(options: &NatsOptions) -> anyhow::Result<NatsLink> {
        options.validate().map_err(anyhow::Error::msg)?;
        let mut connect = async_nats::ConnectOptions::new()
            .name("sandnet")
            .connection_timeout(Duration::from_secs(5));
        if let Some(creds) = &options.creds {
            connect = connect.credentials_file(creds).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the NATS credentials file {} ({e})",
                    creds.display()
                )
            })?;
        }
        if let Some(ca) = &options.tls_ca {
            connect = connect.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((user, password)) = &options.user_password {
            connect = connect.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &options.token {
            connect = connect.token(token.clone());
        }
        let client = connect.connect(options.url.as_str()).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the NATS server {} ({e}); is nats-server running there?",
                options.url
            )
        })?;
        Ok(NatsLink {
            client,
            prefix: format!("{}.", options.prefix),
            next_id: AtomicU64::new(0),
            inbox_keys: RandomState::new(),
        })
    }

    /// The NATS subject of a bus topic or pattern.
    fn subject(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Publishes a checked message (its reply-to mapped under the prefix too).
    pub(super) async fn publish(&self, message: Message) -> Result<(), PublishError> {
        let headers = to_nats_headers(&message.headers)?;
        let subject = self.subject(&message.topic);
        let payload = Bytes::from(message.payload);
        let sent = match &message.reply_to {
            Some(reply) => {
                self.client
                    .publish_with_reply_and_headers(subject, self.subject(reply), headers, payload)
                    .await
            }
            None => {
                self.client
                    .publish_with_headers(subject, headers, payload)
                    .await
            }
        };
        sent.map_err(|e| PublishError::Nats(e.to_string()))
    }

    /// Subscribes to `pattern` under the prefix; a task feeds the
    /// subscription's queue with the messages `filter` admits.
    pub(super) async fn subscribe(
        self: &Arc<Self>,
        pattern: &Subject,
        options: QueueOptions,
        filter: Option<Filter>,
    ) -> Result<Subscriber, PublishError> {
        let mut nats = self
            .client
            .subscribe(self.subject(pattern.as_str()))
            .await
            .map_err(|e| PublishError::Nats(e.to_string()))?;
        let queue = Queue::new(options);
        let link = Arc::clone(self);
        let fed = Arc::clone(&queue);
        let feeder = tokio::spawn(async move {
            while let Some(incoming) = nats.next().await {
                let Some(message) = link.to_bus_message(incoming) else {
                    continue;
                };
                if let Some(filter) = &filter
                    && !Subject::topic(&message.topic).is_ok_and(|t| filter(&t))
                {
                    continue;
                }
                let message = Arc::new(message);
                while fed.push(&message, FEEDER_RECHECK).await.is_err() {
                    if fed.is_closed() {
                        return;
                    }
                }
            }
        });
        Ok(Subscriber::fed_by(queue, feeder.abort_handle()))
    }

    /// The bus inbox a NATS reply subject names, if it is one: under the
    /// prefix and an `_INBOX.` topic. Anything else is not offered to the
    /// guest as a reply-to, because answering a reply-to needs no publish
    /// grant: a peer on the NATS server that set `PREFIX.commands.x` as the
    /// reply subject would otherwise let the guest publish there.
    fn inbox_of(&self, reply: &str) -> Option<String> {
        let inbox = reply.strip_prefix(&self.prefix)?;
        let valid = inbox.starts_with(INBOX_PREFIX) && Subject::topic(inbox).is_ok();
        valid.then(|| inbox.to_owned())
    }

    /// The bus message of a NATS one, or `None` (logged) when its subject
    /// is not a topic under the prefix.
    fn to_bus_message(&self, incoming: async_nats::Message) -> Option<Message> {
        let no_responders = incoming.status == Some(async_nats::StatusCode::NO_RESPONDERS);
        let topic = incoming.subject.as_str().strip_prefix(&self.prefix);
        let topic = match topic.map(Subject::topic) {
            Some(Ok(topic)) => topic,
            _ => {
                tracing::warn!(subject = %incoming.subject, prefix = %self.prefix, "NATS message outside the bus prefix dropped");
                return None;
            }
        };
        let reply_to = incoming
            .reply
            .as_ref()
            .and_then(|r| self.inbox_of(r.as_str()));
        let headers = incoming
            .headers
            .as_ref()
            .map(|h| {
                h.iter()
                    .flat_map(|(name, values)| {
                        values
                            .iter()
                            .map(move |v| (name.to_string(), v.as_str().to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Message {
            topic: topic.as_str().to_owned(),
            payload: incoming.payload.to_vec(),
            headers,
            reply_to,
            no_responders,
        })
    }
}

/// The guest's headers as NATS headers; a name or value NATS cannot carry
/// is an error naming it.
fn to_nats_headers(headers: &[(String, String)]) -> Result<HeaderMap, PublishError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let parsed_name: HeaderName = name.parse().map_err(|_| {
            PublishError::BadHeader(format!(
                "header name {name:?} cannot cross NATS (use letters, digits and '-', no ':' or spaces)"
            ))
        })?;
        let parsed_value: HeaderValue = value.parse().map_err(|_| {
            PublishError::BadHeader(format!(
                "header {name:?} has a value NATS cannot carry (no CR or LF)"
            ))
        })?;
        map.append(parsed_name, parsed_value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str, prefix: &str) -> NatsOptions {
        NatsOptions {
            url: url.into(),
            prefix: prefix.into(),
            ..NatsOptions::default()
        }
    }

    #[test]
    fn urls_and_prefixes_are_checked_with_hints() {
        assert_eq!(
            options("nats://127.0.0.1:4222", "sandnet").validate(),
            Ok(())
        );
        assert_eq!(
            options("tls://nats.example:4222", "site.a").validate(),
            Ok(())
        );
        let cases = [
            ("nats://u:p@h:4222", "sandnet", "carries credentials"),
            ("http://h:4222", "sandnet", "unknown scheme \"http\""),
            ("h:4222", "sandnet", "unknown scheme"),
            ("nats://h:4222", "a.*", "--bus-prefix \"a.*\""),
            ("nats://h:4222", "", "--bus-prefix \"\""),
            ("nats://h:4222", "a.", "--bus-prefix \"a.\""),
        ];
        for (url, prefix, want) in cases {
            let got = options(url, prefix).validate();
            assert!(
                got.as_ref().is_err_and(|e| e.contains(want)),
                "{url:?} {prefix:?}: {got:?}"
            );
        }
        let secret = options("nats://user:hunter2@h:4222", "s").validate();
        assert!(
            secret.is_err_and(|e| !e.contains("hunter2")),
            "the refusal must not echo the password"
        );
    }

    #[tokio::test]
    async fn only_inboxes_under_the_prefix_become_reply_tos() {
        // A link whose client never connected: inbox_of is pure.
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect("nats://127.0.0.1:1")
            .await;
        let Ok(client) = client else {
            panic!("a client that connects in the background")
        };
        let link = NatsLink {
            client,
            prefix: "p.".into(),
            next_id: AtomicU64::new(0),
            inbox_keys: RandomState::new(),
        };
        let inbox = "_INBOX.0123456789abcdef0123456789abcdef";
        assert_eq!(link.inbox_of(&format!("p.{inbox}")).as_deref(), Some(inbox));
        for forged in [
            "p.commands.x",
            "q._INBOX.abc",
            "_INBOX.abc",
            "p._INBOX",
            "p._INBOX..x",
        ] {
            assert_eq!(link.inbox_of(forged), None, "{forged}");
        }
    }

    #[test]
    fn headers_nats_cannot_carry_are_named() {
        let ok = to_nats_headers(&[
            ("trace-id".into(), "1".into()),
            ("trace-id".into(), "2".into()),
        ]);
        assert!(ok.is_ok_and(|m| m.get_all("trace-id").count() == 2));
        let bad = to_nats_headers(&[("a b".into(), "1".into())]);
        assert!(
            matches!(bad, Err(PublishError::BadHeader(ref m)) if m.contains("\"a b\"")),
            "{bad:?}"
        );
        let bad = to_nats_headers(&[("x".into(), "1\r\n2".into())]);
        assert!(
            matches!(bad, Err(PublishError::BadHeader(ref m)) if m.contains("\"x\"")),
            "{bad:?}"
        );
    }
}
