//! Virtual MFA devices through the IAM API: create (the seed is shown once), enable with two
//! consecutive codes, resynchronise, deactivate, delete, list, and tag. The one-time-password
//! rules live in [`crate::mfa`]; STS checks codes there too.

use rampart_protocol::types::Blob;
use rampart_service::{tags, AwsError, RequestContext};
use rampart_store::Expect;

use super::entities::{check_path, merge_tags, remove_tags, tag_page};
use super::{exists, no_such, path_or_root, ts, user_shape, IamService, TAG_RULES};
use crate::mfa::{self, MfaRecord, DEVICES};
use crate::records::{self, name_key, Versioned};
use crate::shapes::iam as s;

/// Most MFA devices one user may have (AWS: 8).
pub const MFA_DEVICES_PER_USER: usize = 8;

fn no_device(serial: &str) -> AwsError {
    no_such(&format!(
        "VirtualMFADevice with serial number {serial} doesn't exist."
    ))
}

fn bad_codes() -> AwsError {
    AwsError::new(
        "InvalidAuthenticationCode",
        403,
        "Authentication code for device is not valid.",
    )
}

/// The owner marker a device record keeps for a user (`None`: the root).
fn owner_of(user: Option<&str>) -> String {
    user.map_or_else(|| "#root".to_owned(), str::to_owned)
}

impl IamService {
    async fn load_device(
        &self,
        ctx: &RequestContext,
        serial: &str,
    ) -> Result<(String, Versioned<MfaRecord>), AwsError> {
        let key =
            mfa::key_of_serial(&ctx.caller.account, serial).ok_or_else(|| no_device(serial))?;
        let dev = DEVICES
            .get(&*self.id.store, &key)
            .await?
            .filter(|d| d.value.serial.eq_ignore_ascii_case(serial))
            .ok_or_else(|| no_device(serial))?;
        Ok((key, dev))
    }

    async fn save_device(&self, key: &str, dev: &Versioned<MfaRecord>) -> Result<(), AwsError> {
        let op = DEVICES.put_op(key, &dev.value, Expect::Version(dev.version))?;
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    /// The account's devices, ordered by key.
    async fn devices(&self, account: &str) -> Result<Vec<(String, MfaRecord)>, AwsError> {
        DEVICES
            .list(&*self.id.store, &format!("{account}/"), None, 100_000)
            .await
    }

    /// Whether `user` (a name) holds any MFA device (DeleteUser refuses then).
    pub(super) async fn user_has_mfa(&self, account: &str, user: &str) -> Result<bool, AwsError> {
        Ok(self.devices(account).await?.iter().any(|(_, d)| {
            d.user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(user))
        }))
    }

    /// The writes that move a user's MFA devices to the user's new name.
    pub(super) async fn rename_mfa_user(
        &self,
        account: &str,
        old: &str,
        new: &str,
    ) -> Result<Vec<rampart_store::Op>, AwsError> {
        let mut ops = Vec::new();
        for (key, _) in self.devices(account).await? {
            let Some(mut dev) = DEVICES.get(&*self.id.store, &key).await? else {
                continue;
            };
            if dev
                .value
                .user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(old))
            {
                dev.value.user = Some(new.to_owned());
                ops.push(DEVICES.put_op(&key, &dev.value, Expect::Version(dev.version))?);
            }
        }
        Ok(ops)
    }

    fn virtual_shape(d: &MfaRecord, user: Option<s::User>) -> s::VirtualMFADevice {
        s::VirtualMFADevice {
            serial_number: d.serial.clone(),
            enable_date: d.enabled.map(ts),
            user,
            tags: tags::shapes_or_none(&d.tags),
            ..Default::default()
        }
    }

    pub(super) async fn create_virtual_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::CreateVirtualMFADeviceRequest,
    ) -> Result<s::CreateVirtualMFADeviceResponse, AwsError> {
        let path = path_or_root(req.path);
        check_path(&path)?;
        let serial = Self::arn(ctx, "mfa", &path, &req.virtual_mfa_device_name);
        self.allow(ctx, "iam:CreateVirtualMFADevice", &serial)
            .await?;
        let (seed, sealed) = mfa::new_seed(&self.id, &serial)?;
        let rec = MfaRecord {
            name: req.virtual_mfa_device_name.clone(),
            path,
            serial: serial.clone(),
            created: self.now_ms(),
            seed_sealed: sealed,
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
            ..Default::default()
        };
        let op = DEVICES.put_op(
            &name_key(&ctx.caller.account, &req.virtual_mfa_device_name),
            &rec,
            Expect::Absent,
        )?;
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists("MFADevice entity at the same path and name already exists.".into())
            })
            .await?;
        let uri = mfa::otpauth_uri(&ctx.caller.account, &rec.name, &seed);
        let mut device = Self::virtual_shape(&rec, None);
        device.qr_code_png = Some(Blob(crate::qr::png_of(&uri)?));
        device.base32_string_seed = Some(Blob(seed.into_bytes()));
        Ok(s::CreateVirtualMFADeviceResponse {
            virtual_mfa_device: device,
        })
    }

    pub(super) async fn enable_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::EnableMFADeviceRequest,
    ) -> Result<(), AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:EnableMFADevice", &user.value.arn)
            .await?;
        let (key, mut dev) = self.load_device(ctx, &req.serial_number).await?;
        if dev.value.user.is_some() {
            return Err(exists("MFA Device is already in use.".into()));
        }
        let held = self
            .devices(&ctx.caller.account)
            .await?
            .iter()
            .filter(|(_, d)| {
                d.user
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&user.value.name))
            })
            .count();
        if held >= MFA_DEVICES_PER_USER {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                format!("Cannot exceed quota for MFADevicesPerUser: {MFA_DEVICES_PER_USER}"),
            ));
        }
        let step = mfa::find_pair(
            &self.id,
            &dev.value,
            &req.authentication_code1,
            &req.authentication_code2,
            self.now_ms(),
        )?
        .ok_or_else(bad_codes)?;
        dev.value.user = Some(owner_of(Some(&user.value.name)));
        dev.value.enabled = Some(self.now_ms());
        dev.value.last_step = Some(step);
        self.save_device(&key, &dev).await
    }

    pub(super) async fn resync_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::ResyncMFADeviceRequest,
    ) -> Result<(), AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:ResyncMFADevice", &user.value.arn)
            .await?;
        let (key, mut dev) = self.load_device(ctx, &req.serial_number).await?;
        if !dev
            .value
            .user
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(&user.value.name))
        {
            return Err(no_device(&req.serial_number));
        }
        let step = mfa::find_pair(
            &self.id,
            &dev.value,
            &req.authentication_code1,
            &req.authentication_code2,
            self.now_ms(),
        )?
        .ok_or_else(bad_codes)?;
        dev.value.last_step = Some(step);
        self.save_device(&key, &dev).await
    }

    pub(super) async fn deactivate_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::DeactivateMFADeviceRequest,
    ) -> Result<(), AwsError> {
        let (user, arn) = self.key_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:DeactivateMFADevice", &arn).await?;
        let (key, mut dev) = self.load_device(ctx, &req.serial_number).await?;
        let owner = owner_of(user.as_deref());
        if !dev
            .value
            .user
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(&owner))
        {
            return Err(no_such(&format!(
                "MFA Device with serial number {} cannot be found for the user.",
                req.serial_number
            )));
        }
        dev.value.user = None;
        dev.value.enabled = None;
        self.save_device(&key, &dev).await
    }

    pub(super) async fn delete_virtual_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::DeleteVirtualMFADeviceRequest,
    ) -> Result<(), AwsError> {
        let found = self.load_device(ctx, &req.serial_number).await;
        self.allow(ctx, "iam:DeleteVirtualMFADevice", &req.serial_number)
            .await?;
        let (key, dev) = found?;
        if dev.value.user.is_some() {
            return Err(super::conflict(
                "MFA VirtualDevice in use. Must deactivate first.",
            ));
        }
        let op = DEVICES.delete_op(&key, Expect::Version(dev.version));
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn list_mfa_devices(
        &self,
        ctx: &RequestContext,
        req: s::ListMFADevicesRequest,
    ) -> Result<s::ListMFADevicesResponse, AwsError> {
        let (user, arn) = self.key_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:ListMFADevices", &arn).await?;
        let owner = owner_of(user.as_deref());
        let shown = user.unwrap_or_else(|| ctx.caller.account.clone());
        let items: Vec<(String, s::MFADevice)> = self
            .devices(&ctx.caller.account)
            .await?
            .into_iter()
            .filter(|(_, d)| {
                d.user
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&owner))
            })
            .map(|(k, d)| {
                (
                    k,
                    s::MFADevice {
                        enable_date: ts(d.enabled.unwrap_or(d.created)),
                        serial_number: d.serial,
                        user_name: shown.clone(),
                    },
                )
            })
            .collect();
        let (mfa_devices, marker) =
            self.page("iam:ListMFADevices", items, &req.marker, req.max_items)?;
        Ok(s::ListMFADevicesResponse {
            mfa_devices,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn get_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::GetMFADeviceRequest,
    ) -> Result<s::GetMFADeviceResponse, AwsError> {
        let (user, arn) = self.key_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:GetMFADevice", &arn).await?;
        let (_, dev) = self.load_device(ctx, &req.serial_number).await?;
        let owner = owner_of(user.as_deref());
        if !dev
            .value
            .user
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(&owner))
        {
            return Err(no_device(&req.serial_number));
        }
        Ok(s::GetMFADeviceResponse {
            serial_number: dev.value.serial,
            user_name: user,
            enable_date: dev.value.enabled.map(ts),
            certifications: None,
        })
    }

    pub(super) async fn list_virtual_mfa_devices(
        &self,
        ctx: &RequestContext,
        req: s::ListVirtualMFADevicesRequest,
    ) -> Result<s::ListVirtualMFADevicesResponse, AwsError> {
        self.allow(
            ctx,
            "iam:ListVirtualMFADevices",
            &Self::arn(ctx, "mfa", "/", ""),
        )
        .await?;
        let status = req.assignment_status.as_deref().unwrap_or("Any");
        let mut items = Vec::new();
        for (k, d) in self.devices(&ctx.caller.account).await? {
            let assigned = d.user.is_some();
            if (status == "Assigned" && !assigned) || (status == "Unassigned" && assigned) {
                continue;
            }
            let user = match d.user.as_deref() {
                None => None,
                Some("#root") => Some(s::User {
                    arn: format!("arn:{}:iam::{}:root", ctx.partition, ctx.caller.account),
                    user_id: ctx.caller.account.clone(),
                    path: "/".into(),
                    create_date: ts(0),
                    ..Default::default()
                }),
                Some(name) => records::USERS
                    .get(&*self.id.store, &name_key(&ctx.caller.account, name))
                    .await?
                    .map(|u| user_shape(&u.value, super::View::List)),
            };
            items.push((k, Self::virtual_shape(&d, user)));
        }
        let (virtual_mfa_devices, marker) = self.page(
            "iam:ListVirtualMFADevices",
            items,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListVirtualMFADevicesResponse {
            virtual_mfa_devices,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn tag_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::TagMFADeviceRequest,
    ) -> Result<(), AwsError> {
        let (key, mut dev) = self.load_device(ctx, &req.serial_number).await?;
        self.allow(ctx, "iam:TagMFADevice", &dev.value.serial)
            .await?;
        merge_tags(&mut dev.value.tags, req.tags);
        TAG_RULES.check_count(dev.value.tags.len())?;
        self.save_device(&key, &dev).await
    }

    pub(super) async fn untag_mfa_device(
        &self,
        ctx: &RequestContext,
        req: s::UntagMFADeviceRequest,
    ) -> Result<(), AwsError> {
        let (key, mut dev) = self.load_device(ctx, &req.serial_number).await?;
        self.allow(ctx, "iam:UntagMFADevice", &dev.value.serial)
            .await?;
        remove_tags(&mut dev.value.tags, &req.tag_keys);
        self.save_device(&key, &dev).await
    }

    pub(super) async fn list_mfa_device_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListMFADeviceTagsRequest,
    ) -> Result<s::ListMFADeviceTagsResponse, AwsError> {
        let (_, dev) = self.load_device(ctx, &req.serial_number).await?;
        self.allow(ctx, "iam:ListMFADeviceTags", &dev.value.serial)
            .await?;
        let (tags, marker) = tag_page(
            &format!("iam:ListMFADeviceTags:{}", dev.value.serial),
            &dev.value.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListMFADeviceTagsResponse {
            tags,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }
}
