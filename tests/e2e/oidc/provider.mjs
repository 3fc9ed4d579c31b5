// The identity provider of the single sign-on browser tests: oidc-provider (OpenID Certified),
// listening on 127.0.0.1 only. Usage: node provider.mjs PORT REDIRECT_URI
//
// Every login typed on its sign-in form is an account: the subject is the login, the e-mail
// <login>@pref.example.jp, verified unless the login starts with "unverified".
import Provider from "oidc-provider";

const [port, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const appOrigin = new URL(redirectUri).origin;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "fund-dashboard",
      client_secret: "e2e-client-secret-not-for-production",
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [redirectUri, `${appOrigin}/`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  scopes: ["openid", "email", "profile"],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@pref.example.jp`, email_verified: !id.startsWith("unverified"), name: id };
      },
    };
  },
  pkce: { required: () => false },
  // The e-mail claims in the ID token too, as organisation providers are configured to send them.
  conformIdTokenClaims: false,
  // The dashboard is the organisation's own application: no consent screen, as with its real provider.
  async loadExistingGrant(ctx) {
    const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
  cookies: { keys: ["e2e-provider-cookie-key"] },
  features: { devInteractions: { enabled: true } },
  // Each sign-in asks again (the tests sign in as different people in one browser context).
  ttl: { Session: 60, Grant: 60 },
});
provider.proxy = false;

provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
