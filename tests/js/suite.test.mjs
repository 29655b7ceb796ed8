// Smoke suite: the AWS SDK for JavaScript v3 (its own serializers and parsers, not botocore's)
// drives every service Rampart implements through its main flows.
//
// Environment (set by tests/integration/test_js_sdk.py, or by hand):
//   RAMPART_ENDPOINT                              http://127.0.0.1:PORT of a running `rampart serve`
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY      the admin account's credentials
// Run: node --test suite.test.mjs

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";

import * as kms from "@aws-sdk/client-kms";
import * as sm from "@aws-sdk/client-secrets-manager";
import * as ssm from "@aws-sdk/client-ssm";
import * as acm from "@aws-sdk/client-acm";
import * as pca from "@aws-sdk/client-acm-pca";
import * as iam from "@aws-sdk/client-iam";
import * as sts from "@aws-sdk/client-sts";
import * as ct from "@aws-sdk/client-cloudtrail";
import * as waf from "@aws-sdk/client-wafv2";
import * as elb from "@aws-sdk/client-elastic-load-balancing-v2";

const endpoint = process.env.RAMPART_ENDPOINT;
if (!endpoint) throw new Error("RAMPART_ENDPOINT is not set");
const region = "us-east-1";
const credentials = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
};
const config = { endpoint, region, credentials, maxAttempts: 1 };
const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 10)}`;

test("KMS: create, describe, list, encrypt/decrypt round trip, alias, schedule deletion", async () => {
  const c = new kms.KMSClient(config);
  const { KeyMetadata: key } = await c.send(new kms.CreateKeyCommand({ Description: "js sdk" }));
  assert.equal(key.KeyState, "Enabled");
  assert.ok(key.CreationDate instanceof Date);
  const described = await c.send(new kms.DescribeKeyCommand({ KeyId: key.KeyId }));
  assert.equal(described.KeyMetadata.Arn, key.Arn);
  const listed = await c.send(new kms.ListKeysCommand({ Limit: 1000 }));
  assert.ok(listed.Keys.some((k) => k.KeyId === key.KeyId));

  const plaintext = new TextEncoder().encode("hello from javascript");
  const enc = await c.send(new kms.EncryptCommand({
    KeyId: key.KeyId, Plaintext: plaintext, EncryptionContext: { purpose: "smoke" },
  }));
  assert.ok(enc.CiphertextBlob instanceof Uint8Array && enc.CiphertextBlob.length > plaintext.length);
  const dec = await c.send(new kms.DecryptCommand({
    CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { purpose: "smoke" },
  }));
  assert.deepEqual(Buffer.from(dec.Plaintext), Buffer.from(plaintext));
  assert.equal(dec.KeyId, key.Arn);
  await assert.rejects(
    c.send(new kms.DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })),
    (e) => e.name === "InvalidCiphertextException",
  );

  const dk = await c.send(new kms.GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: "AES_256" }));
  assert.equal(dk.Plaintext.length, 32);

  const alias = `alias/${unique("js")}`;
  await c.send(new kms.CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
  const viaAlias = await c.send(new kms.DescribeKeyCommand({ KeyId: alias }));
  assert.equal(viaAlias.KeyMetadata.KeyId, key.KeyId);
  await c.send(new kms.UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: "updated" }));
  await c.send(new kms.TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: "team", TagValue: "js" }] }));
  const tags = await c.send(new kms.ListResourceTagsCommand({ KeyId: key.KeyId }));
  assert.deepEqual(tags.Tags, [{ TagKey: "team", TagValue: "js" }]);
  await c.send(new kms.DeleteAliasCommand({ AliasName: alias }));
  const del = await c.send(new kms.ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
  assert.equal(del.KeyState, "PendingDeletion");
  assert.ok(del.DeletionDate instanceof Date);
});

test("Secrets Manager: create, put, get, describe, list, update, delete", async () => {
  const c = new sm.SecretsManagerClient(config);
  const name = unique("js/secret");
  const created = await c.send(new sm.CreateSecretCommand({ Name: name, SecretString: "first" }));
  assert.match(created.ARN, new RegExp(`:secret:${name}-[A-Za-z0-9]{6}$`));
  const put = await c.send(new sm.PutSecretValueCommand({ SecretId: name, SecretString: "second" }));
  assert.deepEqual(put.VersionStages, ["AWSCURRENT"]);
  const got = await c.send(new sm.GetSecretValueCommand({ SecretId: name }));
  assert.equal(got.SecretString, "second");
  assert.equal(got.VersionId, put.VersionId);
  const prev = await c.send(new sm.GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" }));
  assert.equal(prev.SecretString, "first");
  const bin = await c.send(new sm.PutSecretValueCommand({ SecretId: name, SecretBinary: new Uint8Array([0, 1, 2, 255]) }));
  const gotBin = await c.send(new sm.GetSecretValueCommand({ SecretId: name, VersionId: bin.VersionId }));
  assert.deepEqual(Array.from(gotBin.SecretBinary), [0, 1, 2, 255]);
  await c.send(new sm.UpdateSecretCommand({ SecretId: name, Description: "from js" }));
  const described = await c.send(new sm.DescribeSecretCommand({ SecretId: name }));
  assert.equal(described.Description, "from js");
  assert.ok(described.CreatedDate instanceof Date);
  const listed = await c.send(new sm.ListSecretsCommand({ Filters: [{ Key: "name", Values: [name] }] }));
  assert.deepEqual(listed.SecretList.map((s) => s.Name), [name]);
  const deleted = await c.send(new sm.DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  assert.equal(deleted.Name, name);
  await assert.rejects(
    c.send(new sm.GetSecretValueCommand({ SecretId: name })),
    (e) => e.name === "ResourceNotFoundException",
  );
});

test("Parameter Store: String, SecureString, by path, history, labels, delete", async () => {
  const c = new ssm.SSMClient(config);
  const base = `/${unique("js")}`;
  await c.send(new ssm.PutParameterCommand({ Name: `${base}/plain`, Value: "v1", Type: "String" }));
  const v2 = await c.send(new ssm.PutParameterCommand({
    Name: `${base}/plain`, Value: "v2", Type: "String", Overwrite: true,
  }));
  assert.equal(v2.Version, 2);
  await c.send(new ssm.PutParameterCommand({ Name: `${base}/secure`, Value: "s3cr3t", Type: "SecureString" }));
  const hidden = await c.send(new ssm.GetParameterCommand({ Name: `${base}/secure` }));
  assert.equal(hidden.Parameter.Type, "SecureString");
  assert.notEqual(hidden.Parameter.Value, "s3cr3t");
  const shown = await c.send(new ssm.GetParameterCommand({ Name: `${base}/secure`, WithDecryption: true }));
  assert.equal(shown.Parameter.Value, "s3cr3t");
  assert.ok(shown.Parameter.LastModifiedDate instanceof Date);
  const byPath = await c.send(new ssm.GetParametersByPathCommand({ Path: base, WithDecryption: true }));
  assert.deepEqual(byPath.Parameters.map((p) => p.Name).sort(), [`${base}/plain`, `${base}/secure`]);
  const history = await c.send(new ssm.GetParameterHistoryCommand({ Name: `${base}/plain` }));
  assert.deepEqual(history.Parameters.map((p) => p.Value), ["v1", "v2"]);
  await c.send(new ssm.LabelParameterVersionCommand({ Name: `${base}/plain`, ParameterVersion: 1, Labels: ["old"] }));
  const labelled = await c.send(new ssm.GetParameterCommand({ Name: `${base}/plain:old` }));
  assert.equal(labelled.Parameter.Value, "v1");
  const described = await c.send(new ssm.DescribeParametersCommand({
    ParameterFilters: [{ Key: "Name", Option: "BeginsWith", Values: [base] }],
  }));
  assert.equal(described.Parameters.length, 2);
  const deleted = await c.send(new ssm.DeleteParametersCommand({ Names: [`${base}/plain`, `${base}/secure`] }));
  assert.equal(deleted.DeletedParameters.length, 2);
  await assert.rejects(
    c.send(new ssm.GetParameterCommand({ Name: `${base}/plain` })),
    (e) => e.name === "ParameterNotFound",
  );
});

function selfSignedCertificate(cn) {
  const dir = mkdtempSync(join(tmpdir(), "rampart-js-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", `/CN=${cn}`,
      "-addext", `subjectAltName=DNS:${cn}`,
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    return {
      cert: readFileSync(join(dir, "cert.pem")),
      key: readFileSync(join(dir, "key.pem")),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("ACM: import, describe, list, get, tag, delete a certificate", async () => {
  const c = new acm.ACMClient(config);
  const cn = `${unique("js")}.example.com`;
  const { cert, key } = selfSignedCertificate(cn);
  const { CertificateArn: arn } = await c.send(new acm.ImportCertificateCommand({
    Certificate: cert, PrivateKey: key,
  }));
  assert.match(arn, /^arn:aws:acm:us-east-1:\d{12}:certificate\//);
  const { Certificate: d } = await c.send(new acm.DescribeCertificateCommand({ CertificateArn: arn }));
  assert.equal(d.DomainName, cn);
  assert.equal(d.Type, "IMPORTED");
  assert.equal(d.Status, "ISSUED");
  assert.ok(d.NotAfter instanceof Date);
  const listed = await c.send(new acm.ListCertificatesCommand({}));
  assert.ok(listed.CertificateSummaryList.some((s) => s.CertificateArn === arn));
  const got = await c.send(new acm.GetCertificateCommand({ CertificateArn: arn }));
  assert.equal(got.Certificate.trim(), cert.toString().trim());
  await c.send(new acm.AddTagsToCertificateCommand({ CertificateArn: arn, Tags: [{ Key: "team", Value: "js" }] }));
  const tags = await c.send(new acm.ListTagsForCertificateCommand({ CertificateArn: arn }));
  assert.deepEqual(tags.Tags, [{ Key: "team", Value: "js" }]);
  await c.send(new acm.DeleteCertificateCommand({ CertificateArn: arn }));
  await assert.rejects(
    c.send(new acm.DescribeCertificateCommand({ CertificateArn: arn })),
    (e) => e.name === "ResourceNotFoundException",
  );
});

test("ACM Private CA: create a root CA, install its certificate, issue and fetch a certificate", async () => {
  const c = new pca.ACMPCAClient(config);
  const { CertificateAuthorityArn: ca } = await c.send(new pca.CreateCertificateAuthorityCommand({
    CertificateAuthorityType: "ROOT",
    CertificateAuthorityConfiguration: {
      KeyAlgorithm: "EC_prime256v1",
      SigningAlgorithm: "SHA256WITHECDSA",
      Subject: { CommonName: unique("js-root"), Organization: "Rampart" },
    },
  }));
  const described = await c.send(new pca.DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: ca }));
  assert.equal(described.CertificateAuthority.Status, "PENDING_CERTIFICATE");
  const { Csr: csr } = await c.send(new pca.GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: ca }));
  const issued = await c.send(new pca.IssueCertificateCommand({
    CertificateAuthorityArn: ca,
    Csr: new TextEncoder().encode(csr),
    SigningAlgorithm: "SHA256WITHECDSA",
    TemplateArn: "arn:aws:acm-pca:::template/RootCACertificate/V1",
    Validity: { Type: "YEARS", Value: 5 },
  }));
  const root = await c.send(new pca.GetCertificateCommand({
    CertificateAuthorityArn: ca, CertificateArn: issued.CertificateArn,
  }));
  await c.send(new pca.ImportCertificateAuthorityCertificateCommand({
    CertificateAuthorityArn: ca, Certificate: new TextEncoder().encode(root.Certificate),
  }));
  const active = await c.send(new pca.DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: ca }));
  assert.equal(active.CertificateAuthority.Status, "ACTIVE");

  const dir = mkdtempSync(join(tmpdir(), "rampart-js-"));
  let leafCsr;
  try {
    execFileSync("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-subj", "/CN=leaf.example.com", "-keyout", join(dir, "k.pem"), "-out", join(dir, "r.csr"),
    ], { stdio: "ignore" });
    leafCsr = readFileSync(join(dir, "r.csr"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const leaf = await c.send(new pca.IssueCertificateCommand({
    CertificateAuthorityArn: ca, Csr: leafCsr, SigningAlgorithm: "SHA256WITHECDSA",
    Validity: { Type: "DAYS", Value: 30 },
  }));
  const got = await c.send(new pca.GetCertificateCommand({
    CertificateAuthorityArn: ca, CertificateArn: leaf.CertificateArn,
  }));
  assert.match(got.Certificate, /^-----BEGIN CERTIFICATE-----/);
  const listed = await c.send(new pca.ListCertificateAuthoritiesCommand({}));
  assert.ok(listed.CertificateAuthorities.some((a) => a.Arn === ca));
});

test("IAM and STS: user, role, policy, assume role, caller identity", async () => {
  const i = new iam.IAMClient(config);
  const s = new sts.STSClient(config);
  const me = await s.send(new sts.GetCallerIdentityCommand({}));
  assert.match(me.Account, /^\d{12}$/);

  const userName = unique("js-user");
  const { User: user } = await i.send(new iam.CreateUserCommand({ UserName: userName, Path: "/js/" }));
  assert.equal(user.Path, "/js/");
  assert.ok(user.CreateDate instanceof Date);
  const users = await i.send(new iam.ListUsersCommand({ PathPrefix: "/js/" }));
  assert.ok(users.Users.some((u) => u.UserName === userName));

  const roleName = unique("js-role");
  const trust = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${me.Account}:root` }, Action: "sts:AssumeRole" }],
  };
  const { Role: role } = await i.send(new iam.CreateRoleCommand({
    RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trust),
  }));
  const policy = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "sts:GetCallerIdentity", Resource: "*" }],
  };
  await i.send(new iam.PutRolePolicyCommand({
    RoleName: roleName, PolicyName: "inline", PolicyDocument: JSON.stringify(policy),
  }));
  const got = await i.send(new iam.GetRoleCommand({ RoleName: roleName }));
  assert.equal(got.Role.Arn, role.Arn);
  const doc = JSON.parse(decodeURIComponent(got.Role.AssumeRolePolicyDocument));
  assert.equal(doc.Statement[0].Action, "sts:AssumeRole");

  // A root user may not assume a role: the user made above does, with its own access key.
  await i.send(new iam.PutUserPolicyCommand({
    UserName: userName,
    PolicyName: "assume",
    PolicyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: role.Arn }],
    }),
  }));
  const { AccessKey: ak } = await i.send(new iam.CreateAccessKeyCommand({ UserName: userName }));
  const asUser = new sts.STSClient({
    ...config,
    credentials: { accessKeyId: ak.AccessKeyId, secretAccessKey: ak.SecretAccessKey },
  });
  const assumed = await asUser.send(new sts.AssumeRoleCommand({ RoleArn: role.Arn, RoleSessionName: "js" }));
  assert.ok(assumed.Credentials.Expiration instanceof Date);
  assert.match(assumed.AssumedRoleUser.Arn, new RegExp(`:assumed-role/${roleName}/js$`));
  const asRole = new sts.STSClient({
    ...config,
    credentials: {
      accessKeyId: assumed.Credentials.AccessKeyId,
      secretAccessKey: assumed.Credentials.SecretAccessKey,
      sessionToken: assumed.Credentials.SessionToken,
    },
  });
  const who = await asRole.send(new sts.GetCallerIdentityCommand({}));
  assert.equal(who.Arn, assumed.AssumedRoleUser.Arn);

  await i.send(new iam.DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: "inline" }));
  await i.send(new iam.DeleteRoleCommand({ RoleName: roleName }));
  await i.send(new iam.DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: ak.AccessKeyId }));
  await i.send(new iam.DeleteUserPolicyCommand({ UserName: userName, PolicyName: "assume" }));
  await i.send(new iam.DeleteUserCommand({ UserName: userName }));
  await assert.rejects(
    i.send(new iam.GetUserCommand({ UserName: userName })),
    (e) => e.name === "NoSuchEntityException",
  );
});

test("WAFv2: create, get, list, update, delete a web ACL", async () => {
  const c = new waf.WAFV2Client(config);
  const name = unique("js-acl");
  const visibility = { SampledRequestsEnabled: false, CloudWatchMetricsEnabled: false, MetricName: "m" };
  const { Summary: s } = await c.send(new waf.CreateWebACLCommand({
    Name: name,
    Scope: "REGIONAL",
    DefaultAction: { Allow: {} },
    VisibilityConfig: visibility,
    Rules: [{
      Name: "geo",
      Priority: 1,
      Action: { Block: {} },
      Statement: { GeoMatchStatement: { CountryCodes: ["FR"] } },
      VisibilityConfig: visibility,
    }],
  }));
  const got = await c.send(new waf.GetWebACLCommand({ Name: name, Scope: "REGIONAL", Id: s.Id }));
  assert.equal(got.WebACL.ARN, s.ARN);
  assert.deepEqual(got.WebACL.Rules.map((r) => r.Name), ["geo"]);
  assert.ok(got.WebACL.DefaultAction.Allow);
  const listed = await c.send(new waf.ListWebACLsCommand({ Scope: "REGIONAL" }));
  assert.ok(listed.WebACLs.some((a) => a.Id === s.Id));
  const updated = await c.send(new waf.UpdateWebACLCommand({
    Name: name, Scope: "REGIONAL", Id: s.Id, LockToken: got.LockToken,
    DefaultAction: { Block: {} }, VisibilityConfig: visibility, Rules: [],
  }));
  assert.notEqual(updated.NextLockToken, got.LockToken);
  const again = await c.send(new waf.GetWebACLCommand({ Name: name, Scope: "REGIONAL", Id: s.Id }));
  assert.ok(again.WebACL.DefaultAction.Block);
  await c.send(new waf.DeleteWebACLCommand({
    Name: name, Scope: "REGIONAL", Id: s.Id, LockToken: updated.NextLockToken,
  }));
  await assert.rejects(
    c.send(new waf.GetWebACLCommand({ Name: name, Scope: "REGIONAL", Id: s.Id })),
    (e) => e.name === "WAFNonexistentItemException",
  );
});

test("ELBv2: target group, load balancer, listener, describe, delete", async () => {
  const c = new elb.ElasticLoadBalancingV2Client(config);
  const { TargetGroups: [tg] } = await c.send(new elb.CreateTargetGroupCommand({
    Name: unique("js-tg"), Protocol: "HTTP", Port: 8080, VpcId: "vpc-1", TargetType: "ip",
  }));
  const { LoadBalancers: [lb] } = await c.send(new elb.CreateLoadBalancerCommand({
    Name: unique("js-alb"), Subnets: ["subnet-0a1", "subnet-0b2"],
  }));
  assert.equal(lb.Type, "application");
  assert.ok(lb.CreatedTime instanceof Date);
  const { Listeners: [listener] } = await c.send(new elb.CreateListenerCommand({
    LoadBalancerArn: lb.LoadBalancerArn, Protocol: "HTTP", Port: 80,
    DefaultActions: [{ Type: "forward", TargetGroupArn: tg.TargetGroupArn }],
  }));
  const described = await c.send(new elb.DescribeLoadBalancersCommand({ LoadBalancerArns: [lb.LoadBalancerArn] }));
  assert.equal(described.LoadBalancers[0].LoadBalancerName, lb.LoadBalancerName);
  const listeners = await c.send(new elb.DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
  assert.deepEqual(listeners.Listeners.map((l) => l.ListenerArn), [listener.ListenerArn]);
  await c.send(new elb.AddTagsCommand({ ResourceArns: [lb.LoadBalancerArn], Tags: [{ Key: "team", Value: "js" }] }));
  const tags = await c.send(new elb.DescribeTagsCommand({ ResourceArns: [lb.LoadBalancerArn] }));
  assert.deepEqual(tags.TagDescriptions[0].Tags, [{ Key: "team", Value: "js" }]);
  await c.send(new elb.DeleteListenerCommand({ ListenerArn: listener.ListenerArn }));
  await c.send(new elb.DeleteLoadBalancerCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
  await c.send(new elb.DeleteTargetGroupCommand({ TargetGroupArn: tg.TargetGroupArn }));
  await assert.rejects(
    c.send(new elb.DescribeLoadBalancersCommand({ LoadBalancerArns: [lb.LoadBalancerArn] })),
    (e) => e.name === "LoadBalancerNotFoundException",
  );
});

// This SDK sends CloudTrail's short target form (`CloudTrail_20131101.LookupEvents`), where
// botocore sends the model's long prefix: both must route.
test("CloudTrail: LookupEvents finds the calls above", async () => {
  const c = new ct.CloudTrailClient(config);
  const found = await c.send(new ct.LookupEventsCommand({
    LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "CreateKey" }],
    MaxResults: 50,
  }));
  assert.ok(found.Events.length >= 1);
  assert.equal(found.Events[0].EventSource, "kms.amazonaws.com");
  assert.ok(found.Events[0].EventTime instanceof Date);
  JSON.parse(found.Events[0].CloudTrailEvent);
});
