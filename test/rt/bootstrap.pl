#!/usr/bin/perl
# Prepares a fresh Request Tracker 5 instance for alertdesk's tests, through RT's own Perl API
# (RT 5.0.3 has no command-line tool for auth tokens). test/kit/rt.ts runs it after
# rt-setup-database, with RT_SITE_CONFIG / RT_SITE_CONFIG_DIR pointing at the instance's config.
#
#   RT_QUEUE        the queue to use; created when missing (default General, which RT ships)
#   RT_DEDUP_CF     a ticket custom field for the dedup key, applied to every queue (empty: none)
#   RT_AGENT        a second, privileged user acting as a helpdesk agent on the queue (default agent)
#   RT_INTEGRATION  a user with only the rights docs/helpdesks/rt.md lists for alertdesk (default alertdesk)
#
# Prints KEY=VALUE lines: RT_TOKEN (an auth token of user root, "Authorization: token <token>"),
# RT_AGENT and RT_AGENT_TOKEN, RT_INTEGRATION and RT_INTEGRATION_TOKEN.
#
# Safe to run again on the same database: users, rights, the queue and the field are created only
# when missing. Each run makes fresh tokens (RT keeps only a token's hash, so an earlier one cannot
# be read back); earlier tokens stay valid.
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
my $field = RT::CustomField->new($system);
if ($field_name ne '') {
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

# A privileged user (staff); created or completed, never duplicated.
sub ensure_user {
    my ($name, $real_name) = @_;
    my $user = RT::User->new($system);
    $user->Load($name);
    if (!$user->id) {
        my ($ok, $why) = $user->Create(
            Name         => $name,
            RealName     => $real_name,
            EmailAddress => "$name\@example.test",
            Privileged   => 1,
        );
        $ok or die "creating user $name: $why\n";
    }
    if (!$user->Privileged) {
        my ($ok, $why) = $user->SetPrivileged(1);
        $ok or die "making $name privileged: $why\n";
    }
    return $user;
}

# Grants the rights on $object (a queue, a custom field) that $user does not have yet.
sub grant {
    my ($user, $object, @rights) = @_;
    for my $right (@rights) {
        next if $user->PrincipalObj->HasRight(Right => $right, Object => $object);
        my ($ok, $why) = $user->PrincipalObj->GrantRight(Right => $right, Object => $object);
        $ok or die "granting $right to " . $user->Name . ": $why\n";
    }
}

# An auth token of $user (RT 5.0.3 has no command-line tool for tokens). Made by root: a user needs
# the global right ManageAuthTokens to make its own, which neither test user should have.
sub token_of {
    my ($user) = @_;
    my $token = RT::AuthToken->new(RT::CurrentUser->new($root));
    my ($id, $why, $secret) = $token->Create(Owner => $user->id, Description => 'alertdesk tests');
    $id or die "creating an auth token for " . $user->Name . ": $why\n";
    return $secret;
}

# What an agent does on alertdesk's tickets: reply, comment, take, resolve or reject.
my $agent = ensure_user($ENV{RT_AGENT} || 'agent', 'Test Agent');
grant($agent, $queue, qw(SeeQueue ShowTicket ShowTicketComments ReplyToTicket CommentOnTicket OwnTicket TakeTicket StealTicket ModifyTicket));

# What alertdesk itself needs (docs/helpdesks/rt.md, "Rights"): open, comment, set status and
# priority, read the history back, comments included. A global field's rights are checked on the
# field itself (or globally), not on the queue.
my $integration = ensure_user($ENV{RT_INTEGRATION} || 'alertdesk', 'alertdesk');
grant($integration, $queue, qw(SeeQueue CreateTicket ShowTicket ShowTicketComments CommentOnTicket ModifyTicket));
if ($field->id) {
    grant($_, $field, qw(SeeCustomField)) for $agent, $integration;
    grant($integration, $field, qw(ModifyCustomField SetInitialCustomField));
}

print "RT_TOKEN=" . token_of($root) . "\n";
print "RT_AGENT=" . $agent->Name . "\n";
print "RT_AGENT_TOKEN=" . token_of($agent) . "\n";
print "RT_INTEGRATION=" . $integration->Name . "\n";
print "RT_INTEGRATION_TOKEN=" . token_of($integration) . "\n";
