package config

// Example is what `patchnight config init` writes: every setting, commented.
const Example = `# patchnight configuration.
# Precedence: command-line flag > PATCHNIGHT_* environment variable > this file > default.
# Every key below can also be set in the environment: winrm.port is PATCHNIGHT_WINRM_PORT.
# No passwords in this file: name an environment variable or a credential file instead.

# The profile used when --profile / PATCHNIGHT_PROFILE names none.
default_profile: lab

profiles:
  # A lab built by: patchnight lab init --db lab.db
  lab:
    site_code: LAB
    sql: sqlite:lab.db

  # A real site.
  contoso:
    # Three-character site code.
    site_code: ABC
    # Site database (read-only use; see README for the permissions). No user = the current
    # Windows logon (SSPI) on Windows. encrypt=true is added when the DSN does not say.
    sql: sqlserver://cm01.contoso.com?database=CM_ABC
    # SMS Provider host, for collections and client operations.
    provider: cm01.contoso.com
    # Journal, locks and exported tasks. Default: %ProgramData%\patchnight on Windows.
    state_dir: C:\ProgramData\patchnight
    # Time zone of the site's Patch Tuesday (IANA name, or Local).
    time_zone: Europe/London
    winrm:
      # negotiate = the current Windows logon (scheduled task as a gMSA), ntlm, kerberos,
      # or basic (HTTPS and local accounts only). CredSSP is not supported.
      auth: negotiate
      # For ntlm/kerberos/basic: DOMAIN\user or user@domain.
      user: ""
      # Where the password comes from: an environment variable, or a file readable by its
      # owner only. Without either, patchnight prompts on a terminal.
      password_env: PATCHNIGHT_WINRM_PASSWORD
      credential_file: ""
      # HTTPS on 5986 with certificate verification. Plain HTTP (5985) only with
      # https: false, and then only with kerberos (always with message encryption) or
      # ntlm (ntlm_encryption: true).
      https: true
      port: 5986
      ca_file: ""
      server_name: ""
      insecure: false
      ntlm_encryption: true
      # Kerberos: the realm (default: from user@REALM), krb5.conf, a credential cache to
      # use instead of a password (after kinit), the service principal ({host} = target).
      realm: ""
      krb5_conf: ""
      krb5_ccache: ""
      spn: HTTP/{host}
      # Hosts at once, connect timeout, per-host time for one action, retries of transient faults.
      # Appended to machine names from the site database (NetBIOS names) that have no dot:
      # Kerberos needs the host's DNS name.
      dns_suffix: contoso.com
      # Send every WinRM connection to this HOST:PORT instead of each host's own address,
      # keeping the host's name in the request (an SSH tunnel, a WinRM gateway, the lab).
      connect_to: ""
      concurrency: 64
      connect_timeout: 10s
      operation_timeout: 2m
      # One SMS Provider call (collection writes, client operations); when it passes,
      # the call's remote shell is ended.
      provider_timeout: 15m
      retries: 2
    wol:
      # UDP port of the magic packet (9 = ConfigMgr's legacy default).
      port: 9
      # directed, unicast, relay, site or auto.
      mode: directed
      # Packets per second in all, and per subnet (well below switch storm control,
      # 650-3500 packets/s on common switches).
      rate: 1000
      subnet_rate: 50
      # Packets per machine, machines per subnet before a pause, and the pause (spreads
      # the power-on inrush of a batch).
      repeat: 3
      batch_size: 10
      batch_pause: 2s
      # Environment variable holding a SecureOn password, if the NICs use one.
      password_env: ""
    notify:
      # How a notice reaches the logged-on user: window (a small window started in the
      # user's session by a one-shot scheduled task) or msg (msg.exe to the session).
      method: window
      # Shown in every notice ({{.Organisation}}, {{.Contact}}).
      organisation: Contoso IT
      contact: the service desk on extension 4357
      # How long a notice stays on screen.
      display_time: 15m
      # No second notice to the same machine within this time.
      min_interval: 4h
      # No notices in this span of the day (site time zone); none = any time.
      quiet_hours: 19:00-07:00
      # A machine told this many times about one update is escalated instead of told
      # again: listed by notify escalations, added to the needs-attention collection.
      threshold: 3
      # The texts are templates. Placeholders: {{.ArticleID}} {{.BulletinID}} {{.Update}}
      # {{.Title}} {{.Updates}} {{.Organisation}} {{.Contact}} {{.Count}} {{.Threshold}}
      # {{.Machine}}; anything else is refused. They reach the user as plain text.
      scan_title: "{{.Organisation}}: update scan"
      scan_text: |-
        This computer ({{.Machine}}) is about to check for software updates: a scan starts now, and then an update will install. You can keep working.
        Questions? Contact {{.Contact}}.
      missing_title: "{{.Organisation}}: an update is missing"
      missing_text: |-
        This computer ({{.Machine}}) is still missing an update: {{.Update}} {{.Title}}.
        It will try to install it again. You can keep working.
        This is notice number {{.Count}}. If you get this notice more than {{.Threshold}} times, the update is failing on this computer: please call {{.Contact}}.
`
