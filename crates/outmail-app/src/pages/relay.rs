//! The SMTP relay: products that can only speak SMTP hand their mail to outmail's own listener
//! (`outmail serve --smtp-bind`), signing in with an API token as the password. The page shows
//! whether the listener is on (and how to turn it on), each listener with its security and
//! whether it offers AUTH, the certificate, the settings a product enters, a form that makes a
//! product's token (admins only), and the last messages submitted over SMTP.

use leptos::prelude::*;
use leptos_meta::Title;
use outmail_types::access::{CreatedApiToken, TokenScope};
use outmail_types::date::format_unix_ms;
use outmail_types::delivery::MessageView;
use outmail_types::relay::{AuthOffer, RelayCertificate, RelayListener, RelayView};
use outmail_types::settings::TenantView;

use super::tokens::{CreatedToken, NewTokenForm, TenantChoices};
use crate::api;
use crate::components::{
    CopyButton, Loading, Notice, ProblemNotice, ReadOnlyNotice, ShowNotice, StatusBadge, Time,
    session_can_change,
};

/// A certificate ending within this many days is shown with a warning.
const CERTIFICATE_WARNING_DAYS: i64 = 14;
const DAY_MS: i64 = 86_400_000;

/// What a product enters as the user name: the relay takes any.
const USERNAME_ADVICE: &str = "anything — the token's name is a good choice";
/// What a product enters as the password.
const PASSWORD_ADVICE: &str = "an API token with the smtp:submit scope";

#[component]
pub fn Relay() -> impl IntoView {
    let reloads = RwSignal::new(0_u32);
    let relay = LocalResource::new(move || {
        reloads.track();
        async move { api::get::<RelayView>("/relay").await }
    });
    let admin = session_can_change();
    // Only an admin is shown the form that binds a token to a tenant: nobody else needs the list.
    let tenants: TenantChoices = LocalResource::new(move || {
        let wanted = admin.get() == Some(true);
        async move {
            if wanted {
                api::get::<Vec<TenantView>>("/tenants").await
            } else {
                Ok(Vec::new())
            }
        }
    });
    let notice: Notice = RwSignal::new(None);
    // The token just created, shown until the admin hides it or leaves the page.
    let created = RwSignal::new(None::<CreatedApiToken>);
    let reload = move || reloads.update(|n| *n += 1);

    view! {
        <Title text="SMTP relay" />
        <h1>"SMTP relay"</h1>
        <ReadOnlyNotice />
        <p class="lead">
            "Products that can only send over SMTP hand their mail to outmail here, signing in with an API token. "
            "It goes out like mail sent with the API: through the same profiles and outbox, into the same delivery log."
        </p>
        <Suspense fallback=|| view! { <Loading what="the relay" /> }>
            {move || {
                let admin = admin.get();
                Suspend::new(async move {
                    match (relay.await, admin) {
                        (Err(problem), _) => view! { <ProblemNotice problem /> }.into_any(),
                        // The session decides whether the token form is there: waiting for it
                        // keeps the form from pushing the submissions down when it arrives.
                        (Ok(_), None) => view! { <Loading what="the relay" /> }.into_any(),
                        (Ok(relay), Some(admin)) => {
                            view! { <RelayDetails relay admin tenants notice created reload /> }
                                .into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn RelayDetails(
    relay: RelayView,
    admin: bool,
    tenants: TenantChoices,
    notice: Notice,
    created: RwSignal<Option<CreatedApiToken>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let RelayView {
        enabled,
        listeners,
        certificate,
        certificate_problem,
        max_message_bytes,
        unauthenticated_networks,
        recent,
    } = relay;
    if !enabled {
        // Mail submitted before the listener was switched off is still worth seeing.
        let submissions = (!recent.is_empty()).then(|| view! { <Submissions recent reload /> });
        return view! {
            <TurnOn />
            {submissions}
        }
        .into_any();
    }

    let host_name = page_host();
    let several = listeners.len() > 1;
    let without_auth = if unauthenticated_networks.is_empty() {
        "nobody: every client signs in with a token".to_owned()
    } else {
        unauthenticated_networks.join(", ")
    };
    let settings = listeners
        .iter()
        .map(|listener| {
            view! {
                <ProductSettings
                    listener=listener.clone()
                    host_name=host_name.clone()
                    several
                    unauthenticated_networks=unauthenticated_networks.clone()
                />
            }
        })
        .collect_view();
    let token_form = admin.then(|| {
        view! {
            <section class="relay-section" aria-label="A token for a product">
                <NewTokenForm
                    notice
                    created
                    reload=|| ()
                    tenants
                    only_scope=TokenScope::SmtpSubmit
                    legend="Create a token for this product"
                />
                <CreatedToken created for_smtp=true />
                <div class="notices" aria-live="polite">
                    <ShowNotice notice=notice />
                </div>
            </section>
        }
        .into_any()
    });

    // Each section is its own view: one nested type for the whole page is deeper than the
    // compiler's query limit for the WASM build.
    let listeners_section = view! {
        <section class="relay-section" aria-labelledby="relay-listeners">
            <h2 id="relay-listeners">"Listeners"</h2>
            <ListenerTable listeners />
            <dl class="effective">
                <dt>"Largest message"</dt>
                <dd id="relay-max-size">{format_size(max_message_bytes)}</dd>
                <dt>"Sending without AUTH"</dt>
                <dd id="relay-unauthenticated">{without_auth}</dd>
            </dl>
        </section>
    }
    .into_any();
    let certificate_section = view! {
        <section class="relay-section" aria-labelledby="relay-certificate">
            <h2 id="relay-certificate">"Certificate"</h2>
            <CertificateDetails certificate problem=certificate_problem />
        </section>
    }
    .into_any();
    let product_section = view! {
        <section class="relay-section" aria-labelledby="relay-product">
            <h2 id="relay-product">"Settings for a product"</h2>
            <p class="hint">"What to enter in the product's SMTP settings."</p>
            {settings}
        </section>
    }
    .into_any();
    let submissions = view! { <Submissions recent reload /> }.into_any();
    view! {
        <p class="notice ok" id="relay-status" role="status">
            <strong>"The relay is on."</strong>
            " Products can submit mail over SMTP."
        </p>
        {listeners_section}
        {certificate_section}
        {product_section}
        {token_form}
        {submissions}
    }
    .into_any()
}

/// The listener is off: how to turn it on.
#[component]
fn TurnOn() -> impl IntoView {
    view! {
        <div class="notice warning" id="relay-status" role="status">
            <p>
                <strong>"The relay is off."</strong>
                " Products can send only through the API until outmail is started with an SMTP listener:"
            </p>
            <pre class="transcript">
                <code>
                    "outmail serve --smtp-bind 0.0.0.0:2525 --smtp-tls-cert relay.pem --smtp-tls-key relay-key.pem"
                </code>
            </pre>
            <p>
                "or with the environment variable " <code>"OUTMAIL_SMTP_BIND=0.0.0.0:2525"</code>
                ". " <code>"--smtps-bind 0.0.0.0:465"</code>
                " adds a listener that speaks TLS from the first byte, and "
                <code>"--smtp-allow-unauthenticated 10.0.0.0/8,…"</code>
                " lets clients from those networks send without AUTH. Without a certificate, AUTH is offered only on a loopback address such as 127.0.0.1."
            </p>
        </div>
    }
}

/// Why a listener offers AUTH or not, in words.
fn auth_words(auth: AuthOffer) -> (&'static str, &'static str) {
    match auth {
        AuthOffer::AfterTls => ("Offered", " after TLS."),
        AuthOffer::LoopbackWithoutTls => (
            "Offered",
            " without TLS: the listener is on a loopback address, so the token never leaves this machine.",
        ),
        AuthOffer::Refused => (
            "Not offered:",
            " there is no certificate and the listener is not on a loopback address, so a token \
             would cross the network in clear text. Give outmail a certificate (--smtp-tls-cert \
             and --smtp-tls-key) or bind the listener to 127.0.0.1.",
        ),
    }
}

#[component]
fn ListenerTable(listeners: Vec<RelayListener>) -> impl IntoView {
    let rows = listeners
        .into_iter()
        .map(|listener| {
            let (verdict, why) = auth_words(listener.auth);
            view! {
                <tr data-listener=listener.address.clone()>
                    <td>
                        <code>{listener.address.clone()}</code>
                    </td>
                    <td>{listener.security.label()}</td>
                    <td class="wrap">
                        <strong>{verdict}</strong>
                        {why}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="relay-listeners">
                <thead>
                    <tr>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Security"</th>
                        <th scope="col">"AUTH"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// How soon a certificate ends, at `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Ended,
    /// Within [`CERTIFICATE_WARNING_DAYS`]: in this many days, rounded up.
    Soon(i64),
    Later,
}

fn expiry(not_after: i64, now_ms: i64) -> Expiry {
    let left = not_after - now_ms;
    if left <= 0 {
        Expiry::Ended
    } else if left <= CERTIFICATE_WARNING_DAYS * DAY_MS {
        Expiry::Soon((left + DAY_MS - 1) / DAY_MS)
    } else {
        Expiry::Later
    }
}

/// The browser's clock; on the server nothing is rendered that needs it (the relay loads in the
/// browser), so there is none.
fn now_ms() -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        Some(js_sys::Date::now() as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// The host name this page was opened with, for a listener on every address.
fn page_host() -> String {
    #[cfg(feature = "hydrate")]
    {
        window().location().hostname().unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// `YYYY-MM-DD` of a Unix time in milliseconds (UTC).
fn date_of(unix_ms: i64) -> String {
    let text = format_unix_ms(unix_ms);
    text.split_once(' ')
        .map(|(date, _)| date.to_owned())
        .unwrap_or(text)
}

#[component]
fn CertificateDetails(
    certificate: Option<RelayCertificate>,
    problem: Option<String>,
) -> impl IntoView {
    let problem = problem.map(|problem| {
        view! {
            <div class="notice error" role="alert" id="relay-certificate-problem">
                <p>"The certificate is not in use: " {problem}</p>
            </div>
        }
    });
    let details = match certificate {
        Some(certificate) => {
            let ends = date_of(certificate.not_after);
            let warning = match now_ms().map(|now| expiry(certificate.not_after, now)) {
                Some(Expiry::Ended) => Some(format!(
                    "The certificate ended on {ends}: clients that check it refuse to connect. \
                     Renew it and replace the file given to --smtp-tls-cert."
                )),
                Some(Expiry::Soon(days)) => Some(format!(
                    "The certificate ends on {ends}, in {days} {}: renew it and replace the file \
                     given to --smtp-tls-cert.",
                    if days == 1 { "day" } else { "days" }
                )),
                Some(Expiry::Later) | None => None,
            };
            let names = if certificate.dns_names.is_empty() {
                "none".to_owned()
            } else {
                certificate.dns_names.join(", ")
            };
            view! {
                {warning
                    .map(|warning| {
                        view! {
                            <div class="notice warning" role="alert" id="relay-certificate-warning">
                                <p>{warning}</p>
                            </div>
                        }
                    })}
                <dl class="effective" id="relay-certificate-details">
                    <dt>"Subject"</dt>
                    <dd>{certificate.subject}</dd>
                    <dt>"Issuer"</dt>
                    <dd>{certificate.issuer}</dd>
                    <dt>"Names"</dt>
                    <dd>{names}</dd>
                    <dt>"Ends"</dt>
                    <dd>
                        <time datetime=ends.clone()>{ends.clone()}</time>
                    </dd>
                    <dt>"Read"</dt>
                    <dd>
                        <Time unix_ms=certificate.loaded_at />
                    </dd>
                </dl>
            }
            .into_any()
        }
        None => view! {
            <p class="hint" id="relay-no-certificate">
                "No certificate: the listeners offer no TLS. Start outmail with --smtp-tls-cert and --smtp-tls-key to add it."
            </p>
        }
        .into_any(),
    };
    view! {
        {problem}
        {details}
    }
}

/// The host and port a product enters for a listener bound to `address` (`ADDR:PORT`, an IPv6
/// address in brackets): the address itself, or `host_name` (the name this page was opened
/// with) for a listener on every address.
fn product_host_port(address: &str, host_name: &str) -> (String, String) {
    let (host, port) = address.rsplit_once(':').unwrap_or((address, ""));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host_name = host_name.trim_start_matches('[').trim_end_matches(']');
    let host = if matches!(host, "0.0.0.0" | "::") && !host_name.is_empty() {
        host_name
    } else {
        host
    };
    (host.to_owned(), port.to_owned())
}

/// Whether only programs on this machine reach `host`.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// The settings table of one listener, each value with a Copy button, and all of them at once.
#[component]
fn ProductSettings(
    listener: RelayListener,
    host_name: String,
    /// More than one listener: each table says which one it is for.
    several: bool,
    unauthenticated_networks: Vec<String>,
) -> impl IntoView {
    let (host, port) = product_host_port(&listener.address, &host_name);
    let security = listener.security.label();
    let (username, password) = if listener.auth == AuthOffer::Refused {
        let from = if unauthenticated_networks.is_empty() {
            "no network is allowed, so nobody can send here".to_owned()
        } else {
            format!(
                "only clients from {} can send",
                unauthenticated_networks.join(", ")
            )
        };
        (
            "none: this listener does not offer AUTH".to_owned(),
            format!("none: {from}"),
        )
    } else {
        (USERNAME_ADVICE.to_owned(), PASSWORD_ADVICE.to_owned())
    };
    let all = format!(
        "Host: {host}\nPort: {port}\nSecurity: {security}\nUsername: {username}\nPassword: {password}\n"
    );
    let heading = several.then(|| {
        view! { <h3>{format!("Through {} ({security})", listener.address)}</h3> }
    });
    let local_only = is_loopback(&host).then(|| {
        view! {
            <p class="hint">
                {format!("Only programs on this machine can reach {host}.")}
            </p>
        }
    });
    let copyable = |label: &'static str, value: String, what: &'static str| {
        view! {
            <tr>
                <th scope="row">{label}</th>
                <td>
                    <code>{value.clone()}</code>
                </td>
                <td class="actions">
                    <CopyButton text=value what />
                </td>
            </tr>
        }
        // Each row erased to one type: five nested rows overflow the WASM build's query depth.
        .into_any()
    };
    let described = |label: &'static str, value: String| {
        view! {
            <tr>
                <th scope="row">{label}</th>
                <td class="wrap">{value}</td>
                <td></td>
            </tr>
        }
        .into_any()
    };
    view! {
        {heading}
        <div class="table-scroll">
            <table class="relay-settings" data-listener=listener.address.clone()>
                <tbody>
                    {copyable("Host", host.clone(), "host")}
                    {copyable("Port", port, "port")}
                    {copyable("Security", security.to_owned(), "security")}
                    {described("Username", username)}
                    {described("Password", password)}
                </tbody>
            </table>
        </div>
        {local_only}
        <p class="copy-all">
            <CopyButton text=all what="all settings" />
        </p>
    }
}

/// The last messages submitted over SMTP, with a way to the delivery log.
#[component]
fn Submissions(
    recent: Vec<MessageView>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let list = if recent.is_empty() {
        view! { <p class="empty">"Nothing submitted over SMTP yet."</p> }.into_any()
    } else {
        let rows = recent
            .into_iter()
            .map(|message| {
                let token = match message.source.token.clone() {
                    Some(token) => view! { <span>{token}</span> }.into_any(),
                    None => view! { <span class="hint">"none"</span> }.into_any(),
                };
                view! {
                    <tr data-message=message.id.clone()>
                        <td>
                            <Time unix_ms=message.created_at />
                        </td>
                        <td class="wrap">{message.subject.clone()}</td>
                        <td class="wrap">{message.to.join(", ")}</td>
                        <td>
                            <StatusBadge status=message.status />
                        </td>
                        <td class="wrap">{token}</td>
                        <td>{message.source.client.clone().unwrap_or_default()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="relay-recent">
                    <thead>
                        <tr>
                            <th scope="col">"Time"</th>
                            <th scope="col">"Subject"</th>
                            <th scope="col">"Recipients"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Token"</th>
                            <th scope="col">"Client"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="relay-section" aria-labelledby="relay-recent">
            <div class="section-head">
                <h2 id="relay-recent">"Last submissions"</h2>
                <button type="button" class="small" on:click=move |_| reload()>
                    "Refresh"
                </button>
            </div>
            {list}
            <p class="more">
                <a href="/delivery">"Every message, with its attempts and errors, is in the delivery log."</a>
            </p>
        </section>
    }
}

/// A size in bytes for people: "25 MiB", "1.5 KiB", "900 bytes".
fn format_size(bytes: u64) -> String {
    let (unit, size) = if bytes >= 1 << 20 {
        ("MiB", 1_u64 << 20)
    } else if bytes >= 1 << 10 {
        ("KiB", 1 << 10)
    } else {
        return format!("{bytes} bytes");
    };
    let text = format!("{:.1}", bytes as f64 / size as f64);
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_on_one_address_is_entered_as_that_address() {
        assert_eq!(
            product_host_port("127.0.0.1:2525", "mail.example.com"),
            ("127.0.0.1".to_owned(), "2525".to_owned())
        );
        assert_eq!(
            product_host_port("[::1]:587", "mail.example.com"),
            ("::1".to_owned(), "587".to_owned())
        );
    }

    #[test]
    fn a_listener_on_every_address_is_entered_as_the_page_host() {
        assert_eq!(
            product_host_port("0.0.0.0:2525", "mail.example.com"),
            ("mail.example.com".to_owned(), "2525".to_owned())
        );
        assert_eq!(
            product_host_port("[::]:465", "mail.example.com"),
            ("mail.example.com".to_owned(), "465".to_owned())
        );
        // Without a page host (nothing to go by), the bound address stays.
        assert_eq!(
            product_host_port("0.0.0.0:2525", ""),
            ("0.0.0.0".to_owned(), "2525".to_owned())
        );
    }

    #[test]
    fn a_certificate_is_flagged_within_fourteen_days_and_once_ended() {
        let now = 1_700_000_000_000;
        assert_eq!(expiry(now - 1, now), Expiry::Ended);
        assert_eq!(expiry(now, now), Expiry::Ended);
        assert_eq!(expiry(now + 1, now), Expiry::Soon(1));
        assert_eq!(expiry(now + 14 * DAY_MS, now), Expiry::Soon(14));
        assert_eq!(expiry(now + 14 * DAY_MS + 1, now), Expiry::Later);
    }

    #[test]
    fn sizes_read_in_the_largest_whole_unit() {
        assert_eq!(format_size(26_214_400), "25 MiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(900), "900 bytes");
    }

    #[test]
    fn the_expiry_date_is_the_day_in_utc() {
        assert_eq!(date_of(0), "1970-01-01");
    }
}
