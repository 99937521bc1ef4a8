//! The delivery log: every message the product sent through outmail, newest first, with its
//! status, attempts, the server used, the last error or suppression and how it came in (the API
//! or the SMTP relay, with which token, from where); filtered by tenant and status (kept in the
//! address, so a filtered view can be shared), and resent on demand.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use outmail_types::delivery::{MessageSource, MessageStatus, MessageView, SendAccepted};

use crate::api::{self, with_query};
use crate::components::{
    Loading, Notice, ProblemNotice, ReadOnlyNotice, ShowNotice, StatusBadge, Time, can_change,
};

/// The log's address with the filters that are set.
fn log_address(base: &str, status: &str, tenant: &str) -> String {
    with_query(base, &[("status", status), ("tenant", tenant)])
}

#[component]
pub fn DeliveryLog() -> impl IntoView {
    let query = use_query_map();
    let status = Memo::new(move |_| query.read().get("status").unwrap_or_default());
    let tenant = Memo::new(move |_| query.read().get("tenant").unwrap_or_default());
    // Bumped to load the log again (Refresh, after a resend).
    let reloads = RwSignal::new(0_u32);
    let messages = LocalResource::new(move || {
        let path = log_address("/messages", &status.get(), &tenant.get());
        reloads.track();
        async move { api::get::<Vec<MessageView>>(&path).await }
    });
    let notice: Notice = RwSignal::new(None);

    let navigate = use_navigate();
    let filter_to = move |status: String, tenant: String| {
        navigate(
            &log_address("/delivery", &status, tenant.trim()),
            Default::default(),
        );
    };
    let filter_status = {
        let filter_to = filter_to.clone();
        move |event| filter_to(event_target_value(&event), tenant.get_untracked())
    };
    let filter_tenant = move |event| filter_to(status.get_untracked(), event_target_value(&event));

    let resend = move |id: String| {
        spawn_local(async move {
            let path = format!("/messages/{id}/resend");
            let answer = api::post::<_, SendAccepted>(&path, &api::Empty {}).await;
            notice.set(Some(
                answer.map(|queued| format!("Queued again as message {}.", queued.id)),
            ));
            reloads.update(|n| *n += 1);
        });
    };

    view! {
        <Title text="Delivery log" />
        <h1>"Delivery log"</h1>
        <ReadOnlyNotice />
        <p class="lead">
            "Every message the product sent, with its attempts, the server used and why it failed or was left out."
        </p>
        <form class="toolbar" role="search" on:submit=|event| event.prevent_default()>
            <div class="field inline">
                <label for="log-status">"Status"</label>
                <select id="log-status" on:change=filter_status prop:value=move || status.get()>
                    <option value="">"All"</option>
                    {MessageStatus::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str()>{s.label()}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field inline">
                <label for="log-tenant">"Tenant"</label>
                <input
                    id="log-tenant"
                    type="search"
                    placeholder="all tenants"
                    autocomplete="off"
                    prop:value=move || tenant.get()
                    on:change=filter_tenant
                />
            </div>
            <button type="button" on:click=move |_| reloads.update(|n| *n += 1)>
                "Refresh"
            </button>
        </form>
        <div class="notices" aria-live="polite">
            <ShowNotice notice=notice />
        </div>
        <Suspense fallback=|| view! { <Loading what="the delivery log" /> }>
            {move || Suspend::new(async move {
                match messages.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty">"No messages match."</p> }.into_any()
                    }
                    Ok(list) => view! { <MessageTable list resend /> }.into_any(),
                    Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// How a message came in, in one line: "via SMTP · token “billing” · from 192.0.2.7:51234".
fn source_line(source: &MessageSource) -> String {
    let mut parts = vec![format!("via {}", source.channel.label())];
    if let Some(token) = &source.token {
        parts.push(format!("token “{token}”"));
    }
    if let Some(client) = &source.client {
        parts.push(format!("from {client}"));
    }
    parts.join(" · ")
}

#[component]
fn MessageTable(
    list: Vec<MessageView>,
    resend: impl Fn(String) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let can = can_change();
    let rows = list
        .into_iter()
        .map(|message| {
            let resend = resend.clone();
            let id = message.id.clone();
            let outcome = match message.status {
                MessageStatus::Suppressed => format!(
                    "Suppressed by the send frequency: {}",
                    message.suppressed_recipients.join(", ")
                ),
                _ => message.last_error.clone().unwrap_or_default(),
            };
            let can_resend = message.status != MessageStatus::Queued;
            let source = source_line(&message.source);
            view! {
                <tr data-message=message.id.clone()>
                    <td>
                        <Time unix_ms=message.created_at />
                    </td>
                    <td>
                        <StatusBadge status=message.status />
                    </td>
                    <td class="wrap">{message.to.join(", ")}</td>
                    // The source is a line under the subject, which wraps, so the table keeps
                    // its width (a column of its own would widen it).
                    <td class="wrap">
                        {message.subject.clone()}
                        <span class="message-source" data-channel=message.source.channel.as_str()>
                            {source}
                        </span>
                    </td>
                    <td>{message.tenant.clone().unwrap_or_else(|| "global".to_owned())}</td>
                    <td class="number">{message.attempts}</td>
                    <td class="wrap">{message.server_used.clone().unwrap_or_default()}</td>
                    <td class="wrap">{outcome}</td>
                    <td>
                        <Show when=move || can_resend>
                            <button
                                type="button"
                                class="small"
                                aria-label=format!("Resend “{}”", message.subject)
                                disabled=move || !can.get()
                                on:click={
                                    let resend = resend.clone();
                                    let id = id.clone();
                                    move |_| resend(id.clone())
                                }
                            >
                                "Resend"
                            </button>
                        </Show>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="log">
                <thead>
                    <tr>
                        <th scope="col">"Queued"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"To"</th>
                        <th scope="col">"Subject"</th>
                        <th scope="col">"Tenant"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"Server"</th>
                        <th scope="col">"Last error or reason"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
