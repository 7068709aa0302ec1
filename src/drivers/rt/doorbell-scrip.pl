#!/usr/bin/perl
# Installs (or updates) the global scrip "alertdesk doorbell" in a Request Tracker 5: on each action
# of an agent on a ticket alertdesk opened, RT posts a signed doorbell to alertdesk, which then reads
# the ticket's history through REST2 (docs/helpdesks/rt.md, "Doorbell"). RT has no webhooks of its
# own; without this scrip alertdesk polls, which is enough, only slower.
#
# Run it on the RT host, with RT's own configuration (it loads RT like rt-setup-database does):
#
#   perl doorbell-scrip.pl            # Debian's request-tracker5; elsewhere PERL5LIB=/opt/rt5/lib
#
# The two code blocks below can also be pasted into Admin → Global → Scrips → Create (Condition and
# Action "User Defined", Template "Blank", Stage "TransactionCreate"). The scrip reads its settings
# from RT_SiteConfig.pm, so the secret never sits in the database:
#
#   Set($AlertdeskDoorbellURL, 'https://alertdesk.example/webhooks/helpdesk/rt');
#   Set($AlertdeskDoorbellSecret, '...');   # alertdesk's webhook_secret for this helpdesk
#   Set($AlertdeskUser, 'alertdesk');       # alertdesk's RT user: its own writes ring no doorbell
#   Set($AlertdeskDedupField, 'DedupKey');  # only tickets with this field set are alertdesk's
use strict;
use warnings;
use lib '/usr/share/request-tracker5/lib', '/opt/rt5/lib';
use RT;

my $description = 'alertdesk doorbell';

# Applies to what an agent can do to an alertdesk ticket; the rest (mail records, other fields,
# other tickets, alertdesk's own writes) rings nothing.
my $condition = <<'CODE';
my $txn = $self->TransactionObj;
my $type = $txn->Type;
return 0 unless $type =~ /^(?:Comment|Correspond|Status|Set|Take|Untake|Give|Steal)$/;
return 0 if $type eq 'Set' && ($txn->Field || '') !~ /^(?:Owner|Status|Priority)$/;
my $own = RT->Config->Get('AlertdeskUser');
return 0 if $own && lc($txn->CreatorObj->Name) eq lc($own);
my $field = RT->Config->Get('AlertdeskDedupField') || 'DedupKey';
my $key = $self->TicketObj->FirstCustomFieldValue($field);
return (defined $key && length $key) ? 1 : 0;
CODE

# Posts only ids, signed over "<unix seconds>.<body>" with HMAC-SHA256 (hex); a failure is logged and
# never fails the agent's action: alertdesk's poll finds the transaction anyway.
my $commit = <<'CODE';
use LWP::UserAgent ();
use Digest::SHA ();
use JSON ();
my $url = RT->Config->Get('AlertdeskDoorbellURL') or return 1;
my $secret = RT->Config->Get('AlertdeskDoorbellSecret') or return 1;
my $body = JSON::encode_json({
    ticket_id      => $self->TicketObj->id + 0,
    transaction_id => $self->TransactionObj->id + 0,
    type           => $self->TransactionObj->Type,
});
my $ts = time;
my $ua = LWP::UserAgent->new(timeout => 5, agent => 'rt-alertdesk-doorbell');
my $res = $ua->post($url,
    'Content-Type'          => 'application/json',
    'X-Alertdesk-Timestamp' => $ts,
    'X-Alertdesk-Signature' => 'sha256=' . Digest::SHA::hmac_sha256_hex("$ts.$body", $secret),
    Content                 => $body,
);
RT->Logger->warning('alertdesk doorbell: ' . $res->status_line) unless $res->is_success;
return 1;
CODE

RT::LoadConfig();
RT::Init();

my $scrip = RT::Scrip->new(RT->SystemUser);
$scrip->LoadByCols(Description => $description);
if ($scrip->id) {
    for my $set (
        [SetCustomIsApplicableCode => $condition],
        [SetCustomPrepareCode      => 'return 1;'],
        [SetCustomCommitCode       => $commit],
    ) {
        my ($method, $value) = @$set;
        my ($ok, $why) = $scrip->$method($value);
        # Setting the same code again answers "That is already the current value".
        $ok or $why =~ /already the current value/i or die "updating scrip '$description': $why\n";
    }
    print "updated scrip '$description' (#" . $scrip->id . ")\n";
} else {
    my ($id, $why) = $scrip->Create(
        Queue                  => 0,
        Description            => $description,
        ScripCondition         => 'User Defined',
        ScripAction            => 'User Defined',
        Template               => 'Blank',
        Stage                  => 'TransactionCreate',
        CustomIsApplicableCode => $condition,
        CustomPrepareCode      => 'return 1;',
        CustomCommitCode       => $commit,
    );
    $id or die "creating scrip '$description': $why\n";
    print "created scrip '$description' (#$id)\n";
}
