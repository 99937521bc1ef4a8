//! The editor's delivery section: the alternate server to fail over to, and the proxy.

use leptos::prelude::*;
use outmail_types::profile::{ProxyDraft, ProxyKind};
use outmail_types::{ProfileSummary, SecretInput, SecretSlot};

use super::{Draft, Form, SecretField, TextField, some_text};

/// The alternate server (any other profile) and the proxy in front of the server.
#[component]
pub(super) fn DeliverySection(form: Form, others: Vec<ProfileSummary>) -> AnyView {
    let own_id = form
        .saved
        .with_untracked(|s| s.as_ref().map(|s| s.id.clone()));
    let alternates = others
        .into_iter()
        .filter(|p| Some(p.id.to_string()) != own_id)
        .map(|p| {
            let id = p.id.to_string();
            view! { <option value=id>{format!("{} ({})", p.name, p.target)}</option> }
        })
        .collect_view();
    view! {
        <fieldset>
            <legend>"Delivery"</legend>
            <div class="field">
                <label for="f-alternate">"Alternate server"</label>
                <select
                    id="f-alternate"
                    aria-describedby="f-alternate-hint f-alternate-error"
                    prop:value=move || form.draft.with(|d| d.alternate_profile_id.clone().unwrap_or_default())
                    on:change=move |e| {
                        let id = event_target_value(&e);
                        form.edit(|d| d.alternate_profile_id = some_text(id));
                    }
                >
                    <option value="">"None"</option>
                    {alternates}
                </select>
                <p class="hint" id="f-alternate-hint">"When this server cannot be reached, mail goes through the alternate until an admin resets it."</p>
                <p class="field-error" id="f-alternate-error">{move || form.message("alternate_profile_id")}</p>
            </div>
            <ProxyFields form />
        </fieldset>
    }
    .into_any()
}

/// The proxy: none, HTTP CONNECT or SOCKS5, and then its address and credentials.
#[component]
fn ProxyFields(form: Form) -> AnyView {
    let proxy_kind = Memo::new(move |_| {
        form.draft
            .with(|d| d.proxy.as_ref().map_or("", |p| p.kind.as_str()))
    });
    view! {
        <div class="field">
            <label for="f-proxy-kind">"Proxy"</label>
            <select
                id="f-proxy-kind"
                prop:value=move || proxy_kind.get()
                on:change=move |e| {
                    let chosen = event_target_value(&e);
                    form.edit(|d| choose_proxy(d, &chosen));
                }
            >
                <option value="">"None: connect directly"</option>
                <option value="http">"HTTP CONNECT"</option>
                <option value="socks5">"SOCKS5"</option>
            </select>
        </div>
        <Show when=move || !proxy_kind.get().is_empty()>
            <TextField form path="proxy.host" label="Proxy host" required=true
                get=|d| d.proxy.as_ref().map(|p| p.host.clone()).unwrap_or_default()
                set=|d, v| if let Some(p) = &mut d.proxy { p.host = v.trim().to_owned() } />
            <TextField form path="proxy.port" label="Proxy port" required=true input_type="number"
                get=|d| d.proxy.as_ref().and_then(|p| p.port).map(|p| p.to_string()).unwrap_or_default()
                set=|d, v| if let Some(p) = &mut d.proxy { p.port = v.trim().parse().ok() } />
            <TextField form path="proxy.username" label="Proxy user name"
                get=|d| d.proxy.as_ref().and_then(|p| p.username.clone()).unwrap_or_default()
                set=|d, v| if let Some(p) = &mut d.proxy { p.username = some_text(v) } />
            <Show when=move || form.draft.with(|d| d.proxy.as_ref().is_some_and(|p| p.username.is_some()))>
                <SecretField form secret=SecretSlot::ProxyPassword label="Proxy password"
                    get=|d| d.proxy.as_ref().map(|p| p.password.clone())
                    set=|d, v| if let Some(p) = &mut d.proxy { p.password = v } />
            </Show>
        </Show>
    }
    .into_any()
}

/// The proxy kind chosen in the select: `http` or `socks5` keeps the proxy's other fields and
/// changes only its kind; anything else removes the proxy.
fn choose_proxy(d: &mut Draft, chosen: &str) {
    d.proxy = match chosen {
        "http" | "socks5" => {
            let kind = if chosen == "http" {
                ProxyKind::Http
            } else {
                ProxyKind::Socks5
            };
            let mut proxy = d.proxy.take().unwrap_or(ProxyDraft {
                kind,
                host: String::new(),
                port: None,
                username: None,
                password: SecretInput::Clear,
            });
            proxy.kind = kind;
            Some(proxy)
        }
        _ => None,
    };
}
