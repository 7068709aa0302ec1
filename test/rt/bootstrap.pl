#!/usr/bin/perl
# Prepares a fresh Request Tracker 5 instance for alertdesk's tests, through RT's own Perl API
# (RT 5.0.3 has no command-line tool for auth tokens). test/kit/rt.ts runs it after
# rt-setup-database, with RT_SITE_CONFIG / RT_SITE_CONFIG_DIR pointing at the instance's config.
#
#   RT_QUEUE     the queue to use; created when missing (default General, which RT ships)
#   RT_DEDUP_CF  a ticket custom field for the dedup key, applied to every queue (empty: none)
#
# Prints one line, RT_TOKEN=<token>: an auth token of user root ("Authorization: token <token>").
use strict;
use warnings;
use lib '/usr/local/share/request-tracker5/lib', '/usr/share/request-tracker5/lib';
use RT;

RT::LoadConfig();
RT::Init();

my $system = RT->SystemUser;
my $root = RT::User->new($system);
$root->Load('root');
$root->id or die "no user root in the database\n";

my $queue_name = $ENV{RT_QUEUE} || 'General';
my $queue = RT::Queue->new($system);
$queue->Load($queue_name);
if (!$queue->id) {
    my ($ok, $why) = $queue->Create(Name => $queue_name, Description => 'alertdesk tests');
    $ok or die "creating queue $queue_name: $why\n";
}

my $field_name = defined $ENV{RT_DEDUP_CF} ? $ENV{RT_DEDUP_CF} : 'DedupKey';
if ($field_name ne '') {
    my $field = RT::CustomField->new($system);
    $field->LoadByName(Name => $field_name, LookupType => RT::Ticket->CustomFieldLookupType);
    if (!$field->id) {
        my ($ok, $why) = $field->Create(
            Name        => $field_name,
            Type        => 'Freeform',
            MaxValues   => 1,
            LookupType  => RT::Ticket->CustomFieldLookupType,
            Description => 'alertdesk dedup key',
        );
        $ok or die "creating custom field $field_name: $why\n";
        # Applied to an empty queue object = applied globally, to every queue.
        ($ok, $why) = $field->AddToObject(RT::Queue->new($system));
        $ok or die "applying custom field $field_name: $why\n";
    }
}

my $token = RT::AuthToken->new(RT::CurrentUser->new($root));
my ($id, $why, $secret) = $token->Create(Owner => $root->id, Description => 'alertdesk tests');
$id or die "creating an auth token: $why\n";
print "RT_TOKEN=$secret\n";
