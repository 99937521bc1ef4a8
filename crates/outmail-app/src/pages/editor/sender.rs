//! The editor's sender and message sections: From, Reply-To, signature, send frequency, UTF-8.

use leptos::prelude::*;

use super::{CheckField, Form, TextField, some_text};

/// Who mail is from: the From address, its display name, Reply-To, and whose name it carries.
#[component]
pub(super) fn SenderSection(form: Form) -> AnyView {
    view! {
        <fieldset>
            <legend>"Sender"</legend>
            <TextField form path="sender.address" label="From address" required=true placeholder="\"Example Alerts\" <alerts@example.com>"
                get=|d| d.sender.address.clone() set=|d, v| d.sender.address = v
                hint="An address, or a name and an address: \"Name\" <alerts@example.com>." />
            <TextField form path="sender.display_name" label="Display name"
                get=|d| d.sender.display_name.clone().unwrap_or_default() set=|d, v| d.sender.display_name = some_text(v) />
            <TextField form path="sender.reply_to" label="Reply-To" placeholder="helpdesk@example.com"
                get=|d| d.sender.reply_to.clone().unwrap_or_default() set=|d, v| d.sender.reply_to = some_text(v) />
            <CheckField form id="f-send-as-user" label="Send as the acting user"
                get=|d| d.sender.send_as_acting_user set=|d, v| d.sender.send_as_acting_user = v
                hint="Where the server allows it, mail a user triggers is from them; otherwise they are the Reply-To." />
            <CheckField form id="f-template-from" label="A template's From overrides this sender"
                get=|d| d.sender.template_from_overrides set=|d, v| d.sender.template_from_overrides = v />
        </fieldset>
    }
    .into_any()
}

/// What every message gets: the signature (with a preview), the send frequency, UTF-8 headers.
#[component]
pub(super) fn MessageSection(form: Form) -> AnyView {
    view! {
        <fieldset>
            <legend>"Message"</legend>
            <SignatureField form />
            <TextField form path="send_frequency" label="Send frequency (seconds)" input_type="number"
                get=|d| d.send_frequency.map(|s| s.to_string()).unwrap_or_default()
                set=|d, v| d.send_frequency = v.trim().parse().ok().or(if v.trim().is_empty() { None } else { Some(-1) })
                hint="The same alert to the same recipient within this many seconds is sent once. 0 turns it off; empty: 300." />
            <CheckField form id="f-utf8" label="UTF-8 headers (SMTPUTF8)"
                get=|d| d.utf8_headers set=|d, v| d.utf8_headers = v
                hint="Allows addresses such as 山田太郎@株式.会社; the server must offer SMTPUTF8." />
        </fieldset>
    }
    .into_any()
}

/// The signature, and how it will look under a message.
#[component]
fn SignatureField(form: Form) -> AnyView {
    view! {
        <div class="field">
            <label for="f-signature">"Signature"</label>
            <textarea
                id="f-signature"
                rows="3"
                aria-describedby="f-signature-error"
                prop:value=move || form.draft.with(|d| d.signature.clone().unwrap_or_default())
                on:input=move |e| {
                    let text = event_target_value(&e);
                    form.edit(|d| d.signature = some_text(text));
                }
            ></textarea>
            <p class="field-error" id="f-signature-error">{move || form.message("signature")}</p>
            <Show when=move || form.draft.with(|d| d.signature.is_some())>
                <figure class="preview">
                    <figcaption>"Preview"</figcaption>
                    <pre>{move || form.draft.with(|d| format!("Your message…\n\n-- \n{}", d.signature.clone().unwrap_or_default()))}</pre>
                </figure>
            </Show>
        </div>
    }
    .into_any()
}
