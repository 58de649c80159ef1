// Package wol wakes machines with Wake-on-LAN for a patch night, across routed subnets,
// paced, and confirmed.
//
// The steps, each usable on its own:
//
//	Options.Validate    refuse bad input (exit code 64) before anything is read or sent
//	LoadTargets         one set-based read of the site database (queries/wol_targets.sql):
//	                    each machine's IPv4-enabled inventory adapters (MAC, address, mask),
//	                    or its discovery MACs and addresses; usable MACs and subnet-directed
//	                    broadcasts worked out, the rest skipped with a reason
//	Options.Plan        group the adapters per subnet and choose per subnet how to reach it
//	                    (directed broadcast, unicast, relay through an online client, or the
//	                    site's client notification), saying why
//	Send                paced sending: per subnet, globally, in power-safe batches
//	Confirm             after a wait, read who came online (queries/wol_online.sql, or a
//	                    probe) and report woke / no answer / no MAC / no route per subnet
//
// Packets are mdlayher/wol magic packets (6 x 0xFF, 16 x the MAC, optional SecureOn
// password) written from one IPv4 UDP socket with SO_BROADCAST set explicitly (Listen),
// through the PacketConn interface, so that a test or the lab can see every intended
// destination. The defaults and why they are safe for switches and breakers are with
// DefaultSubnetRate. The WinRM relay, the SMS Provider and the probe are interfaces
// (Relayer, SiteWaker, Prober) so that this package does not depend on how they are
// reached.
//
// Nothing here ever sends to an address it did not compute from the site's data: no
// limited broadcast (255.255.255.255), no guessed masks, no multicast.
package wol
