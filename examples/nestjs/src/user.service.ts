import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { User } from 'sagactl';
import { ApiError } from './api-error';
import { KnownIds } from './known-ids';

/**
 * The design's UserService. Its validateUser used to lock the user, check and debit the balance
 * itself; that is now the engine's validate_user step (status, purchase limit and balance, the
 * debit and its step record in one statement, the undo beside it). What stays here is the gate in
 * front of the saga: a purchase for a user who does not exist is refused before anything is
 * written. A suspended user or a short balance is the saga's own decision, recorded as such.
 */
@Injectable()
export class UserService {
  private readonly known = new KnownIds();

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async validateUser(userId: string): Promise<void> {
    if (!(await this.known.check(userId, (id) => this.users.existsBy({ userId: id })))) {
      throw new ApiError(HttpStatus.NOT_FOUND, 'USER_NOT_FOUND', `No user "${userId}".`);
    }
  }
}
