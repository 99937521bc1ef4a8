//! The audit log: who changed what and when, sign-ins (failed ones too) and test sends, newest
//! first, a page at a time (the page is kept in the address), and the whole log as JSON.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use outmail_types::access::AuditEvent;
use outmail_types::settings::Page;

use crate::api::{self, with_query};
use crate::components::{Loading, Pager, ProblemNotice, Time};

/// Events per page.
const PER_PAGE: u32 = 50;

/// The page's address; page 1 is the default and stays out of it.
fn audit_address(page: u32) -> String {
    let page = if page > 1 {
        page.to_string()
    } else {
        String::new()
    };
    with_query("/audit", &[("page", &page)])
}

#[component]
pub fn Audit() -> impl IntoView {
    let query = use_query_map();
    let page = Memo::new(move |_| {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .filter(|&p| p >= 1)
            .unwrap_or(1)
    });
    let events = LocalResource::new(move || {
        let path = format!("/audit?page={}&per_page={PER_PAGE}", page.get());
        async move { api::get::<Page<AuditEvent>>(&path).await }
    });

    view! {
        <Title text="Audit log" />
        <h1>"Audit log"</h1>
        <p class="lead">
            "Every change, sign-in and test send: who, what, which fields (never their values) and how it ended. Newest first."
        </p>
        <div class="toolbar">
            // `download`: the browser saves the file instead of the router treating the
            // address as a page of this app.
            <a class="button" href="/api/v1/audit/export" download>
                "Export JSON"
            </a>
        </div>
        <Suspense fallback=|| view! { <Loading what="the audit log" /> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(found) if found.items.is_empty() => {
                        view! { <p class="empty">"No events yet."</p> }.into_any()
                    }
                    Ok(found) => {
                        let pages = found.page_count();
                        let current = found.page;
                        view! {
                            <EventTable items=found.items />
                            <Pager current pages link=Callback::new(audit_address) />
                        }
                            .into_any()
                    }
                    Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EventTable(items: Vec<AuditEvent>) -> impl IntoView {
    let rows = items
        .into_iter()
        .map(|event| {
            view! {
                <tr data-event=event.id.clone()>
                    <td>
                        <Time unix_ms=event.at />
                    </td>
                    <td class="wrap">{event.actor.clone()}</td>
                    <td>
                        <code>{event.action.clone()}</code>
                    </td>
                    <td class="wrap">{event.target.clone()}</td>
                    <td class="wrap">{event.fields.join(", ")}</td>
                    <td>{event.outcome.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="audit">
                // Named for screen readers only; inside the positioned scroll box, so the hidden
                // text cannot widen the page on a phone.
                <caption class="visually-hidden">"Audit events, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Fields"</th>
                        <th scope="col">"Outcome"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
