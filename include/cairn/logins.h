// Logins: the identity provider tokens a player signs in with (Cognito Identity's Logins map),
// which the sync manager and the Cognito Identity client both take.
#pragma once

#include <map>
#include <string>

namespace cairn {
namespace identity {

using Logins = std::map<std::string, std::string>;  // provider name -> token

}  // namespace identity
}  // namespace cairn
