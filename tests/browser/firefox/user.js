// The profile of the Firefox the dashboard tests drive (process.rs writes this file as the
// profile's user.js). Marionette on a port Firefox picks itself; no traffic from Firefox to
// anything but 127.0.0.1 (the lab's rule for the host); the pages' errors where tests see them.

// Marionette on any free port; Firefox writes the port to <profile>/MarionetteActivePort, so
// nothing can take it between our choosing and Firefox's binding.
user_pref("marionette.port", 0);

// Everything not on loopback goes to a proxy that is not there (port 9, discard) and fails
// there: no DNS lookups, no connections out, whatever a background service tries. Firefox
// never sends 127.0.0.1 or localhost through a proxy (network.proxy.allow_hijacking_localhost
// is false), so the lab's pages load directly. No falling back to a direct connection.
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", 9);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", 9);
user_pref("network.proxy.share_proxy_settings", true);
user_pref("network.proxy.no_proxies_on", "");
user_pref("network.proxy.failover_direct", false);
user_pref("network.trr.mode", 5);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.predictor.enabled", false);

// The background services that would try anyway (and log their failures): updates, studies,
// remote settings, telemetry, safe browsing, captive-portal and connectivity checks, push.
user_pref("app.update.disabledForTesting", true);
user_pref("app.normandy.enabled", false);
user_pref("app.normandy.api_url", "");
user_pref("app.shield.optoutstudies.enabled", false);
user_pref("messaging-system.rsexperimentloader.enabled", false);
// Honoured only with MOZ_REMOTE_SETTINGS_DEVTOOLS=1 in the environment (process.rs sets it).
user_pref("services.settings.server", "data:,#remote-settings-dummy/v1");
user_pref("security.remote_settings.intermediates.enabled", false);
user_pref("security.remote_settings.crlite_filters.enabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.server", "");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("datareporting.usage.uploadEnabled", false);
user_pref("browser.safebrowsing.blockedURIs.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("captivedetect.canonicalURL", "");
user_pref("network.connectivity-service.enabled", false);
user_pref("dom.push.connection.enabled", false);
user_pref("browser.region.network.url", "");
user_pref("geo.provider.network.url", "");
user_pref("extensions.update.enabled", false);
user_pref("extensions.systemAddon.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("extensions.blocklist.enabled", false);
user_pref("browser.search.update", false);
user_pref("media.gmp-manager.updateEnabled", false);
user_pref("identity.fxaccounts.enabled", false);
user_pref("browser.topsites.contile.enabled", false);

// The pages' console (their errors among it) to Firefox's output, which the tests read.
user_pref("devtools.console.stdout.content", true);

// A blank start: no first-run or welcome pages, no default-browser question.
user_pref("browser.startup.page", 0);
user_pref("browser.startup.homepage", "about:blank");
user_pref("startup.homepage_welcome_url", "about:blank");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
