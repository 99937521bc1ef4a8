//! The one place a saved profile's sealed secrets are opened for sending. The store unseals a
//! secret only for the profile, slot and destination it was sealed for, so what comes back can
//! only go where it was entered for.

use outmail_mail::Secrets;
use outmail_store::{ExposeSecret as _, Store, StoreError};
use outmail_types::{SecretSlot, SecretString};

/// Opens the stored secrets of profile `profile_id` in `slots`; a slot with nothing stored is
/// left out. Any failure to open one is an error: a send must not go out half-credentialed.
pub async fn open(
    store: &Store,
    profile_id: &str,
    slots: impl IntoIterator<Item = SecretSlot>,
) -> Result<Secrets, StoreError> {
    let mut secrets = Secrets::new();
    for slot in slots {
        if let Some(value) = open_one(store, profile_id, slot).await? {
            secrets.insert(slot, value);
        }
    }
    Ok(secrets)
}

/// One stored secret, or `None` when the slot holds none.
pub async fn open_one(
    store: &Store,
    profile_id: &str,
    slot: SecretSlot,
) -> Result<Option<SecretString>, StoreError> {
    let opened = store.open_secret(profile_id, slot.path()).await?;
    Ok(opened.map(|value| SecretString::new(value.expose_secret())))
}
