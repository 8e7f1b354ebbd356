#!/usr/bin/perl
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/real/counter.pl [PROCS ITERS]: PROCS processes add 1 to a counter
# ITERS times each, under a write lock taken with fcntl(F_SETLKW) over its
# bytes; the final value must be exact.
use strict;
use warnings;
use Fcntl qw(F_SETLKW F_SETLK F_WRLCK F_UNLCK SEEK_SET O_RDWR);
use File::Temp qw(tempfile);

my $procs = $ARGV[0] // 4;
my $iters = $ARGV[1] // 1000;
# struct flock on Linux x86_64/aarch64: short, short, off_t, off_t, pid_t
sub fl { pack("s s x4 q q i x4", $_[0], SEEK_SET, $_[1], $_[2], 0) }

my ($tfh, $path) = tempfile("/tmp/lockspace-real-XXXXXX");
syswrite($tfh, sprintf("%016d", 0));
close($tfh);
my @pids;
for my $p (1 .. $procs) {
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0) {
		sysopen(my $fh, $path, O_RDWR) or die "open: $!";
		for (1 .. $iters) {
			fcntl($fh, F_SETLKW, fl(F_WRLCK, 0, 16))
				or die "F_SETLKW: $!";
			sysseek($fh, 0, 0);
			sysread($fh, my $buf, 16) == 16 or die "read: $!";
			sysseek($fh, 0, 0);
			syswrite($fh, sprintf("%016d", $buf + 1)) == 16
				or die "write: $!";
			fcntl($fh, F_SETLK, fl(F_UNLCK, 0, 16))
				or die "unlock: $!";
		}
		close($fh);
		exit(0);
	}
	push @pids, $pid;
}
my $bad = 0;
for (@pids) {
	waitpid($_, 0);
	$bad++ if $?;
}
open(my $fh, "<", $path) or die;
my $v = <$fh>;
close($fh);
unlink($path);
my $want = $procs * $iters;
printf("perl: counter=%d want=%d\n", $v, $want);
if ($bad || $v != $want) {
	print "FAIL\n";
	exit(1);
}
print "OK\n";
