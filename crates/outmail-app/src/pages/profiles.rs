//! The profiles list: filter by name and transport (kept in the address), transport and health
//! badges, duplicate, delete after a confirmation, and a banner for every profile sending
//! through its alternate, with Reset.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use outmail_types::delivery::{ActiveFailover, FailoverView};
use outmail_types::profile::TransportKind;
use outmail_types::settings::Page;
use outmail_types::{ProfileSummary, ProfileView};

use crate::api::{self, with_query};
use crate::components::{
    ConfirmDialog, Loading, Notice, Pager, ProblemNotice, ReadOnlyNotice, ShowNotice, Time,
    can_change,
};

/// The list's address with the filters that are set.
fn list_address(base: &str, name: &str, transport: &str, page: u32) -> String {
    // Page 1 is the default and stays out of the address.
    let page = if page > 1 {
        page.to_string()
    } else {
        String::new()
    };
    with_query(
        base,
        &[("name", name), ("transport", transport), ("page", &page)],
    )
}

#[component]
pub fn Profiles() -> impl IntoView {
    let query = use_query_map();
    let name = Memo::new(move |_| query.read().get("name").unwrap_or_default());
    let transport = Memo::new(move |_| query.read().get("transport").unwrap_or_default());
    let page = Memo::new(move |_| {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .filter(|&p| p >= 1)
            .unwrap_or(1)
    });
    let reloads = RwSignal::new(0_u32);
    let profiles = LocalResource::new(move || {
        let path = list_address("/profiles", &name.get(), &transport.get(), page.get());
        reloads.track();
        async move { api::get::<Page<ProfileSummary>>(&path).await }
    });
    let failovers = LocalResource::new(move || {
        reloads.track();
        async move { api::get::<Vec<ActiveFailover>>("/failovers").await }
    });
    let notice: Notice = RwSignal::new(None);
    let can = can_change();

    let navigate = use_navigate();
    let filter_to = move |name: String, transport: String| {
        navigate(
            &list_address("/", name.trim(), &transport, 1),
            Default::default(),
        );
    };
    let filter_name = {
        let filter_to = filter_to.clone();
        move |event| filter_to(event_target_value(&event), transport.get_untracked())
    };
    let filter_transport = move |event| filter_to(name.get_untracked(), event_target_value(&event));

    // The profile waiting for the delete confirmation.
    let deleting = RwSignal::new(None::<ProfileSummary>);
    let confirm_open = RwSignal::new(false);
    let ask_delete = move |profile: ProfileSummary| {
        deleting.set(Some(profile));
        confirm_open.set(true);
    };
    let confirm_body = Signal::derive(move || {
        deleting
            .get()
            .map(|p| {
                format!(
                    "“{}” will be deleted. Messages already queued through it will fail.",
                    p.name
                )
            })
            .unwrap_or_default()
    });
    let delete = Callback::new(move |()| {
        let Some(profile) = deleting.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let path = format!("/profiles/{}", profile.id);
            let etag = format!("\"{}\"", profile.version);
            let answer = api::delete(&path, &etag).await;
            notice.set(Some(
                answer.map(|()| format!("Deleted “{}”.", profile.name)),
            ));
            reloads.update(|n| *n += 1);
        });
    });
    let duplicate = move |profile: ProfileSummary| {
        spawn_local(async move {
            let path = format!("/profiles/{}/duplicate", profile.id);
            let answer = api::post::<_, ProfileView>(&path, &api::Empty {}).await;
            notice.set(Some(
                answer.map(|copy| format!("Created “{}”.", copy.profile.name)),
            ));
            reloads.update(|n| *n += 1);
        });
    };
    let reset = move |profile_id: String| {
        spawn_local(async move {
            let path = format!("/profiles/{profile_id}/failover/reset");
            let answer = api::post::<_, FailoverView>(&path, &api::Empty {}).await;
            notice.set(Some(answer.map(|_| {
                "Reset: the profile sends through its own server again.".to_owned()
            })));
            reloads.update(|n| *n += 1);
        });
    };

    view! {
        <Title text="Profiles" />
        <h1>"Profiles"</h1>
        <ReadOnlyNotice />
        <p class="lead">
            "Named mail-server profiles: SMTP, Exchange Web Services and Microsoft Graph, each with its sender, authentication and alternate server."
        </p>
        <form class="toolbar" role="search" on:submit=|event| event.prevent_default()>
            // A link cannot be switched off: a viewer gets a disabled button in its place.
            <Show
                when=move || can.get()
                fallback=|| {
                    view! {
                        <button type="button" class="primary" disabled>
                            "Add profile"
                        </button>
                    }
                }
            >
                <a class="button primary" href="/profiles/new">
                    "Add profile"
                </a>
            </Show>
            <div class="field inline">
                <label for="profile-filter">"Name"</label>
                <input
                    id="profile-filter"
                    type="search"
                    placeholder="filter by name"
                    autocomplete="off"
                    prop:value=move || name.get()
                    on:change=filter_name
                />
            </div>
            <div class="field inline">
                <label for="profile-transport">"Transport"</label>
                <select
                    id="profile-transport"
                    prop:value=move || transport.get()
                    on:change=filter_transport
                >
                    <option value="">"All"</option>
                    {TransportKind::ALL
                        .into_iter()
                        .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
                        .collect_view()}
                </select>
            </div>
        </form>
        <div class="notices" aria-live="polite">
            <ShowNotice notice=notice />
        </div>
        <Suspense fallback=|| view! { <Loading what="the profiles" /> }>
            // The banners load with the list, below the filters, so nothing already on the
            // page moves when they appear.
            {move || Suspend::new(async move {
                let active = failovers.await.unwrap_or_default();
                let failed_over: Vec<String> = active.iter().map(|f| f.profile_id.clone()).collect();
                let names: HashMap<String, String> = profiles
                    .await
                    .map(|page| {
                        page.items.into_iter().map(|p| (p.id.to_string(), p.name)).collect()
                    })
                    .unwrap_or_default();
                let banners = view! { <FailoverBanners active names reset /> };
                let list = match profiles.await {
                    Ok(page) if page.items.is_empty() => {
                        view! { <p class="empty">"No profiles match."</p> }.into_any()
                    }
                    Ok(page) => {
                        let pages = page.page_count();
                        let current = page.page;
                        view! {
                            <ProfileList
                                items=page.items
                                failed_over
                                duplicate
                                ask_delete
                            />
                            <Pager
                                current
                                pages
                                link=Callback::new(move |page| {
                                    list_address("/", &name.get(), &transport.get(), page)
                                })
                            />
                        }
                            .into_any()
                    }
                    Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
                };
                view! { {banners} {list} }
            })}
        </Suspense>
        <ConfirmDialog
            open=confirm_open
            title="Delete this profile?"
            body=confirm_body
            confirm_label="Delete"
            on_confirm=delete
        />
    }
}

/// One banner per profile sending through its alternate.
#[component]
fn FailoverBanners(
    active: Vec<ActiveFailover>,
    names: HashMap<String, String>,
    reset: impl Fn(String) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let can = can_change();
    let name_of = move |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    active
        .into_iter()
        .map(|failover| {
            let reset = reset.clone();
            let profile = name_of(&failover.profile_id);
            let alternate = name_of(&failover.alternate_profile_id);
            let id = failover.profile_id.clone();
            view! {
                <div class="banner warning" role="status" data-failover=failover.profile_id.clone()>
                    <p>
                        <strong>{format!("“{profile}” sends through its alternate “{alternate}”")}</strong>
                        " since "
                        <Time unix_ms=failover.since />
                        ". "
                        {format!("The primary server failed: {}", failover.reason)}
                    </p>
                    <button
                        type="button"
                        aria-label=format!("Reset “{profile}” to its own server")
                        disabled=move || !can.get()
                        on:click=move |_| reset(id.clone())
                    >
                        "Reset"
                    </button>
                </div>
            }
        })
        .collect_view()
}

#[component]
fn ProfileList(
    items: Vec<ProfileSummary>,
    failed_over: Vec<String>,
    duplicate: impl Fn(ProfileSummary) + Clone + Send + Sync + 'static,
    ask_delete: impl Fn(ProfileSummary) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let can = can_change();
    let rows = items
        .into_iter()
        .map(|profile| {
            let on_alternate = failed_over.contains(&profile.id.to_string());
            let (duplicate, ask_delete) = (duplicate.clone(), ask_delete.clone());
            let (for_duplicate, for_delete) = (profile.clone(), profile.clone());
            view! {
                <tr data-profile=profile.id.to_string()>
                    <th scope="row" class="wrap">
                        <a href=format!("/profiles/{}", profile.id)>{profile.name.clone()}</a>
                    </th>
                    <td>
                        <span class=format!("badge transport-{}", profile.transport.as_str())>
                            {profile.transport.label()}
                        </span>
                    </td>
                    <td class="wrap">{profile.target.clone()}</td>
                    <td>
                        {if on_alternate {
                            view! { <span class="badge status-failed">"On alternate"</span> }
                        } else {
                            view! { <span class="badge status-sent">"Primary"</span> }
                        }}
                    </td>
                    <td class="actions">
                        <button
                            type="button"
                            class="small"
                            aria-label=format!("Duplicate “{}”", profile.name)
                            disabled=move || !can.get()
                            on:click=move |_| duplicate(for_duplicate.clone())
                        >
                            "Duplicate"
                        </button>
                        <button
                            type="button"
                            class="small danger"
                            aria-label=format!("Delete “{}”", profile.name)
                            disabled=move || !can.get()
                            on:click=move |_| ask_delete(for_delete.clone())
                        >
                            "Delete"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="profiles">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Transport"</th>
                        <th scope="col">"Server"</th>
                        <th scope="col">"Health"</th>
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
