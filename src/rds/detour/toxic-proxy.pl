#!/usr/bin/perl
# tierlab's proxy on the task -> database path (`tierlab chaos latency|reset|bandwidth task-db`).
# It holds the DB endpoint's names while a fault is active and forwards every connection to the
# primary, meeting Toxiproxy's toxics on the way: latency (plus jitter) on each chunk of the
# answer, a bandwidth limit each way, a fraction of connections reset when they open.
#
# Only Perl's base (every Debian image has it): a process per connection, and one more per
# direction. The settings file is read again at each chunk, so a change of toxics or of the
# primary (a failover) reaches the open connections too.
#
#   /run/tierlab/toxics   lines of `key value`: upstream HOST:PORT, latency_ms, jitter_ms,
#                         reset_rate (0 to 1), bytes_per_second (0: no limit), end 1
#   /run/tierlab/ready    written once the port listens
use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER IPPROTO_TCP TCP_NODELAY);
use POSIX qw(_exit);

my $SETTINGS = '/run/tierlab/toxics';
my $port = $ARGV[0] or die "usage: toxic-proxy.pl PORT\n";
$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';
$| = 1;

# Read at every chunk (a tiny file, and the simplest way to follow a change at once); a read
# that does not reach the closing `end` line (the file being replaced) keeps the last settings.
my %settings;
sub settings {
    open(my $fh, '<', $SETTINGS) or return \%settings;
    my %read;
    while (my $line = <$fh>) {
        chomp $line;
        my ($key, $value) = split / /, $line, 2;
        $read{$key} = $value if defined $value;
    }
    close $fh;
    %settings = %read if $read{end};
    return \%settings;
}

# Fractional seconds with the core `select` (Time::HiRes is not in Perl's base).
sub pause { my $seconds = shift; select(undef, undef, undef, $seconds) if $seconds > 0 }

# Close with RST, not FIN: SO_LINGER on, zero seconds.
sub reset_connection {
    my $socket = shift;
    setsockopt($socket, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $socket;
}

# Copies `from` to `to` until either closes; the answers (`down`) wait the latency first.
sub pump {
    my ($from, $to, $down) = @_;
    while (1) {
        my $n = sysread($from, my $chunk, 16384);
        last unless $n;
        my $s = settings();
        pause((($s->{latency_ms} // 0) + rand($s->{jitter_ms} // 0)) / 1000) if $down;
        my $rate = $s->{bytes_per_second} // 0;
        pause($n / $rate) if $rate > 0;
        my $sent = 0;
        while ($sent < $n) {
            my $w = syswrite($to, $chunk, $n - $sent, $sent);
            return unless $w;
            $sent += $w;
        }
    }
    shutdown($to, 1);
}

sub serve {
    my $client = shift;
    my $s = settings();
    if (rand() < ($s->{reset_rate} // 0)) {
        reset_connection($client);
        return;
    }
    my $upstream = IO::Socket::INET->new(PeerAddr => $s->{upstream}, Timeout => 5);
    unless ($upstream) {
        print STDERR "cannot reach $s->{upstream}: $!\n";
        reset_connection($client);
        return;
    }
    setsockopt($_, IPPROTO_TCP, TCP_NODELAY, 1) for ($client, $upstream);
    my $pid = fork;
    return unless defined $pid;
    if ($pid == 0) {
        pump($client, $upstream, 0);
        _exit(0);
    }
    pump($upstream, $client, 1);
    kill 'TERM', $pid;
}

my $listener = IO::Socket::INET->new(
    LocalAddr => '0.0.0.0',
    LocalPort => $port,
    Listen    => 128,
    ReuseAddr => 1,
) or die "cannot listen on $port: $!\n";
if (open(my $ready, '>', '/run/tierlab/ready')) { close $ready }
print "listening on $port\n";
while (1) {
    my $client = $listener->accept or next;
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        close $listener;
        serve($client);
        _exit(0);
    }
    close $client;
}
